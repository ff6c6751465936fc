"""An online deployment's scaleSettings, as the REST API spec defines them.

machinelearningservices stable/2024-04-01 mfe.json: OnlineScaleSettings, discriminated by
`scaleType`: Default, or TargetUtilization with minInstances, maxInstances (int32),
pollingInterval (an ISO 8601 duration, "precision as low as Seconds") and
targetUtilizationPercentage (int32); defaults 1, 1, PT1S and 70. TargetUtilization is the
Kubernetes online deployment's autoscaler: azure-ai-ml refuses it on a managed deployment
("ManagedOnlineEndpoint supports DefaultScaleSettings only", ManagedOnlineDeployment.
_validate_scale_settings), which scales through Azure Monitor autoscale instead (autoscale.py),
and local mode answers such a PUT with a 400. The bounds are the cluster autoscaler's
(Kubernetes HorizontalPodAutoscaler: minReplicas at least 1, maxReplicas not below it, a target
utilization above 0). Local mode stores and serves the settings back; no utilization is
measured and no scaling happens (README).
"""

from __future__ import annotations

import re
from typing import Any

from azml_local.infra.web import bad_request
from azml_local.resources.context import field_of

POLLING = re.compile(r"P(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)")


def check_scale_settings(props: dict[str, Any]) -> None:
    """A 400 for scaleSettings Azure would refuse; TargetUtilization gets its defaults."""
    settings = field_of(props, "scaleSettings", dict, required=False)
    if settings is None:
        return
    kind = field_of(settings, "scaleType", str)
    if kind == "Default":
        return
    if kind != "TargetUtilization":
        raise bad_request(f"scaleSettings.scaleType '{kind}' is not one of Default, "
                          "TargetUtilization.")
    if props.get("endpointComputeType") != "Kubernetes":
        raise bad_request("scaleSettings of type TargetUtilization apply to Kubernetes online "
                          "deployments only; a managed online deployment takes Default.")
    defaults = {"minInstances": 1, "maxInstances": 1, "targetUtilizationPercentage": 70}
    for key, default in defaults.items():
        value = settings.setdefault(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad_request(f"scaleSettings.{key} must be a whole number of at least 1.")
    if settings["maxInstances"] < settings["minInstances"]:
        raise bad_request("scaleSettings.maxInstances must be at least minInstances.")
    polling = settings.setdefault("pollingInterval", "PT1S")
    match = POLLING.fullmatch(polling) if isinstance(polling, str) else None
    if match is None or not any(match.groups()) or (
        int(match.group(1) or 0) * 3600 + int(match.group(2) or 0) * 60
        + int(match.group(3) or 0) < 1
    ):
        raise bad_request("scaleSettings.pollingInterval must be an ISO 8601 duration of at "
                          "least one second (e.g. PT10S).")
