"""An online deployment's serving settings and an endpoint's network access, as Azure checks them.

Sources:
- REST API spec, machinelearningservices stable 2024-04-01 (mfe.json): OnlineDeploymentProperties
  has requestSettings (OnlineRequestSettings: maxConcurrentRequestsPerInstance int32,
  requestTimeout and maxQueueWait ISO 8601 durations), livenessProbe and readinessProbe
  (ProbeSettings: failureThreshold and successThreshold int32, initialDelay, period and timeout
  durations), appInsightsEnabled (boolean), egressPublicNetworkAccess
  (EgressPublicNetworkAccessType: Enabled, Disabled) and description; OnlineEndpointProperties
  has publicNetworkAccess (PublicNetworkAccessType: Enabled, Disabled). Enums are matched
  ignoring case (x-ms-enum modelAsString; the SDK's CaseInsensitiveEnumMeta).
- "CLI (v2) managed online deployment YAML schema" (learn.microsoft.com,
  reference-yaml-deployment-managed-online), the defaults and ranges: request_timeout_ms default
  5000 and "the maximum value allowed is 180000 milliseconds"; max_concurrent_requests_per_instance
  default 1; max_queue_wait_ms default 500 (deprecated); probes: initial_delay default 10,
  minimum 1; period default 10; timeout default 2, minimum 1; success_threshold default 1,
  minimum 1 for readiness, "fixed as 1" for liveness; failure_threshold default 30, minimum 1;
  app_insights_enabled default false; egress_public_network_access default enabled.
- A probe's period has no documented minimum; Azure runs the probes as Kubernetes probes, whose
  periodSeconds has "Minimum value is 1" (kubernetes.io, Probe API reference), so 1 s it is.
- max_concurrent_requests_per_instance has no documented maximum; int32 bounds it.

A deployment read back carries every setting, Azure's default where the PUT gave none (what
`az ml online-deployment show` prints for a deployment created without them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from azml_local.infra.web import bad_request
from azml_local.resources.context import duration_seconds, field_of

INT32 = 2**31 - 1
REQUEST_DEFAULTS = {"requestTimeout": "PT5S", "maxConcurrentRequestsPerInstance": 1,
                    "maxQueueWait": "PT0.5S"}
PROBE_DEFAULTS = {"initialDelay": "PT10S", "period": "PT10S", "timeout": "PT2S",
                  "successThreshold": 1, "failureThreshold": 30}
def seconds(path: str, value: Any) -> Decimal:
    """An ISO 8601 duration (PnDTnHnMn.nS, what the SDK sends) in seconds, or a 400."""
    parsed = duration_seconds(value)
    if parsed is None:
        raise bad_request(f"'{path}' must be an ISO 8601 duration such as PT5S, not '{value}'.")
    exact = Decimal(str(parsed))  # 1.5 s stays 1.5; a whole number prints without ".0"
    return exact.to_integral_value() if exact % 1 == 0 else exact


def enum_value(path: str, value: Any, allowed: tuple[str, ...]) -> str:
    """`value` as Azure spells it, matched ignoring case, or a 400."""
    for name in allowed:
        if isinstance(value, str) and value.lower() == name.lower():
            return name
    raise bad_request(f"'{path}' must be one of {', '.join(allowed)}, not '{value}'.")


def _known(path: str, given: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(k for k, v in given.items() if k not in known and v is not None)
    if unknown:
        raise bad_request(f"'{path}' has unknown properties: {', '.join(unknown)}.")
    return {k: v for k, v in given.items() if v is not None}


def _count(path: str, value: Any, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= INT32:
        raise bad_request(f"'{path}' must be an integer of at least {low}, not '{value}'.")
    return value


def request_settings(props: dict[str, Any]) -> dict[str, Any]:
    given = field_of(props, "requestSettings", dict, required=False) or {}
    settings = {**REQUEST_DEFAULTS, **_known("requestSettings", given, REQUEST_DEFAULTS)}
    _count("requestSettings.maxConcurrentRequestsPerInstance",
           settings["maxConcurrentRequestsPerInstance"], 1)
    timeout = seconds("requestSettings.requestTimeout", settings["requestTimeout"])
    if not 0 < timeout <= 180:
        raise bad_request("'requestSettings.requestTimeout' must be more than 0 and at most "
                          f"180000 ms (PT3M); it is {timeout * 1000} ms.")
    seconds("requestSettings.maxQueueWait", settings["maxQueueWait"])
    return settings


def probe(props: dict[str, Any], name: str) -> dict[str, Any]:
    given = field_of(props, name, dict, required=False) or {}
    settings = {**PROBE_DEFAULTS, **_known(name, given, PROBE_DEFAULTS)}
    for key in ("initialDelay", "period", "timeout"):
        if seconds(f"{name}.{key}", settings[key]) < 1:
            raise bad_request(f"'{name}.{key}' must be at least 1 second, not "
                              f"'{settings[key]}'.")
    for key in ("successThreshold", "failureThreshold"):
        _count(f"{name}.{key}", settings[key], 1)
    if name == "livenessProbe" and settings["successThreshold"] != 1:
        raise bad_request("'livenessProbe.successThreshold' must be 1 (a liveness probe's "
                          "success threshold is fixed at 1).")
    return settings


def deployment_settings(props: dict[str, Any]) -> dict[str, Any]:
    """The deployment's serving settings, checked, with Azure's defaults filled in."""
    insights = field_of(props, "appInsightsEnabled", bool, required=False)
    field_of(props, "description", str, required=False)
    egress = props.get("egressPublicNetworkAccess")
    return {
        "requestSettings": request_settings(props),
        "livenessProbe": probe(props, "livenessProbe"),
        "readinessProbe": probe(props, "readinessProbe"),
        "appInsightsEnabled": bool(insights),
        "egressPublicNetworkAccess": "Enabled" if egress is None else enum_value(
            "egressPublicNetworkAccess", egress, ("Enabled", "Disabled")),
    }


def public_network_access(props: dict[str, Any]) -> str:
    """An endpoint's publicNetworkAccess as Azure spells it (Enabled when not given)."""
    value = props.get("publicNetworkAccess")
    if value is None:
        return "Enabled"
    return enum_value("publicNetworkAccess", value, ("Enabled", "Disabled"))
