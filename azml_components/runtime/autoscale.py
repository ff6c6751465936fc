# Autoscale of a managed online deployment: an Azure Monitor autoscale setting
# (Microsoft.Insights/autoscalesettings, api-version 2022-10-01, the one azure-mgmt-monitor 7.0.0
# calls) whose target is the deployment, written with azure-mgmt-monitor as Microsoft's
# "Autoscale online endpoints in Azure Machine Learning" (how-to-autoscale-endpoints, Python
# tab) does: MonitorManagementClient.autoscale_settings.create_or_update with
# target_resource_uri = the deployment's ARM id and one profile (capacity and rules). Azure does
# not delete an autoscale setting with its target, so every deletion of an online deployment or
# endpoint by these components removes the settings that target it first.
from typing import Optional

from azml_components.runtime.azure_client import azml_retry_settings
from azml_components.runtime.calls import azml_call
from azml_components.runtime.validation import azml_check_range, azml_whole_numbers


def azml_autoscale_metrics() -> dict:
    # Metric names by the resource that reports them: Microsoft's "Supported metrics" pages for
    # Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments and .../
    # onlineEndpoints (Azure Monitor reference; all with time grain PT1M). A rule's metric is
    # read from the deployment when the deployment reports it, else from the endpoint (the
    # how-to's RequestLatency rule names the endpoint as its resource).
    return {
        "deployments": [
            "CpuMemoryUtilizationPercentage", "CpuUtilizationPercentage",
            "DataCollectionErrorsPerMinute", "DataCollectionEventsPerMinute",
            "DeploymentCapacity", "DiskUtilization", "GpuEnergyJoules",
            "GpuMemoryUtilizationPercentage", "GpuUtilizationPercentage",
            "RequestLatency_P50", "RequestLatency_P90", "RequestLatency_P95",
            "RequestLatency_P99", "RequestsPerMinute",
        ],
        "endpoints": [
            "ConnectionsActive", "DataCollectionErrorsPerMinute",
            "DataCollectionEventsPerMinute", "NetworkBytes", "NewConnectionsPerSecond",
            "RequestLatency", "RequestLatency_P50", "RequestLatency_P90", "RequestLatency_P95",
            "RequestLatency_P99", "RequestsPerMinute",
        ],
    }


def azml_duration_seconds(field: str, value) -> int:
    # An ISO 8601 duration as Azure Monitor takes it (PT5M, PT1H, P1D, P1W) -> seconds.
    import re

    match = re.fullmatch(
        r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", str(value)
    ) if isinstance(value, str) else None
    if match is None or value in ("P", "PT") or value.endswith("T"):
        raise ValueError(f"{field}: {value!r} is not an ISO 8601 duration such as PT5M or PT1H")
    weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds


def azml_check_autoscale_rule(index: int, rule) -> dict:
    # One scale rule, with the REST spec's enums and ranges (azure-rest-api-specs, monitor
    # stable/2022-10-01 autoscale_API.json: MetricTrigger, ScaleAction) and the metric names of
    # azml_autoscale_metrics.
    field = f"autoscale.rules[{index}]"
    if not isinstance(rule, dict):
        raise ValueError(f"{field}: must be a mapping with metric, operator, threshold, direction")
    known = {"metric", "operator", "threshold", "direction", "change", "cooldown",
             "time_window", "time_grain", "statistic", "time_aggregation"}
    unknown = sorted(set(rule) - known)
    if unknown:
        raise ValueError(f"{field}: unknown keys {unknown} (known: {sorted(known)})")
    checked = {"time_window": "PT5M", "time_grain": "PT1M", "statistic": "Average",
               "time_aggregation": "Average", "change": 1, "cooldown": "PT5M", **rule}
    metrics = azml_autoscale_metrics()
    if checked.get("metric") not in metrics["deployments"] + metrics["endpoints"]:
        raise ValueError(
            f"{field}.metric: {checked.get('metric')!r} is not a metric of an online deployment "
            f"or endpoint (e.g. CpuUtilizationPercentage, RequestLatency; Azure Monitor's "
            "supported metrics for Microsoft.MachineLearningServices)"
        )
    enums = {
        "operator": ["Equals", "NotEquals", "GreaterThan", "GreaterThanOrEqual", "LessThan",
                     "LessThanOrEqual"],
        "direction": ["Increase", "Decrease"],
        "statistic": ["Average", "Min", "Max", "Sum", "Count"],
        "time_aggregation": ["Average", "Minimum", "Maximum", "Total", "Count", "Last"],
    }
    for key, allowed in enums.items():
        if checked.get(key) not in allowed:
            raise ValueError(f"{field}.{key}: {checked.get(key)!r} is not one of "
                             f"{', '.join(allowed)}")
    threshold = checked.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise ValueError(f"{field}.threshold: {threshold!r} must be a number")
    azml_check_range(f"{field}.change", checked["change"], 1)
    # timeGrain: one of the metric's grains (PT1M for every metric here); timeWindow between
    # 5 minutes and 12 hours; cooldown between 1 minute and 1 week (the spec's descriptions).
    if azml_duration_seconds(f"{field}.time_grain", checked["time_grain"]) != 60:
        raise ValueError(f"{field}.time_grain: {checked['time_grain']!r} must be PT1M, the "
                         "only time grain of online endpoint metrics")
    for key, low, high, text in (("time_window", 300, 43200, "PT5M and PT12H"),
                                 ("cooldown", 60, 604800, "PT1M and P7D")):
        if not low <= azml_duration_seconds(f"{field}.{key}", checked[key]) <= high:
            raise ValueError(f"{field}.{key}: {checked[key]!r} must be between {text}")
    return checked


def azml_check_autoscale(autoscale: Optional[dict], compute: str) -> dict:
    # The autoscale input, checked before any call to Azure: {} (none) or min/max/default
    # instances (whole numbers, min <= default <= max: ScaleCapacity) and 1-10 rules (the
    # spec's AutoscaleProfile: "A maximum of 10 rules"). Managed deployments only: Kubernetes
    # online deployments scale with scale_settings (target_utilization).
    if not autoscale:
        return {}
    if not isinstance(autoscale, dict):
        raise ValueError("autoscale: must be a mapping such as {'min_instances': 1, "
                         "'max_instances': 3, 'rules': [...]}")
    if compute:
        raise ValueError("autoscale: applies to managed online deployments (Azure Monitor); a "
                         "Kubernetes deployment scales with scale_settings (target_utilization)")
    autoscale = azml_whole_numbers(autoscale)
    unknown = sorted(set(autoscale) - {"min_instances", "max_instances", "default_instances",
                                       "rules"})
    if unknown:
        raise ValueError(f"autoscale: unknown keys {unknown} (known: default_instances, "
                         "max_instances, min_instances, rules)")
    low = azml_check_range("autoscale.min_instances", autoscale.get("min_instances"), 1)
    high = azml_check_range("autoscale.max_instances", autoscale.get("max_instances"), low)
    default = autoscale.get("default_instances", low)
    azml_check_range("autoscale.default_instances", default, low, high)
    rules = autoscale.get("rules") or []
    if not isinstance(rules, list) or len(rules) > 10:
        raise ValueError("autoscale.rules: must be a list of at most 10 rules (Azure Monitor's "
                         "limit per profile)")
    return {"min_instances": low, "max_instances": high, "default_instances": default,
            "rules": [azml_check_autoscale_rule(i, rule) for i, rule in enumerate(rules)]}


def azml_monitor_client(client):
    # The run's one MonitorManagementClient, made once from its MLClient: the same credential,
    # subscription, ARM address and token scope (MLClient reads them from the cloud it runs in,
    # _base_url and its credential_scopes), and azml_retry_settings like every ARM call.
    found = getattr(client, "azml_monitor", None)
    if found is None:
        from azure.mgmt.monitor import MonitorManagementClient

        scopes = client._kwargs.get("credential_scopes")
        found = MonitorManagementClient(
            client._credential, client.subscription_id, base_url=client._base_url,
            **({"credential_scopes": scopes} if scopes else {}), **azml_retry_settings(),
        )
        client.azml_monitor = found
    return found


def azml_autoscale_setting_name(endpoint_name: str, deployment_name: str) -> str:
    # One setting per deployment, named as the how-to names it (autoscale-ENDPOINT-DEPLOYMENT,
    # without its random suffix), so a redeploy finds and updates it.
    return f"autoscale-{endpoint_name}-{deployment_name}".lower()


def azml_autoscale_resource(wanted: dict, endpoint, deployment_name: str):
    # The AutoscaleSettingResource for `wanted` (azml_check_autoscale's): one profile, each
    # rule's metric read from the deployment when it reports the metric, else the endpoint.
    from datetime import timedelta

    from azure.mgmt.monitor.models import (
        AutoscaleProfile,
        AutoscaleSettingResource,
        MetricTrigger,
        ScaleAction,
        ScaleCapacity,
        ScaleRule,
    )

    deployment_id = f"{endpoint.id}/deployments/{deployment_name}"
    metrics = azml_autoscale_metrics()
    namespace = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
    rules = []
    for rule in wanted["rules"]:
        on_deployment = rule["metric"] in metrics["deployments"]

        def span(key: str, rule=rule) -> timedelta:
            return timedelta(seconds=azml_duration_seconds(key, rule[key]))

        rules.append(ScaleRule(
            metric_trigger=MetricTrigger(
                metric_name=rule["metric"],
                metric_namespace=namespace + ("/deployments" if on_deployment else ""),
                metric_resource_uri=deployment_id if on_deployment else endpoint.id,
                time_grain=span("time_grain"), statistic=rule["statistic"],
                time_window=span("time_window"), time_aggregation=rule["time_aggregation"],
                operator=rule["operator"], threshold=float(rule["threshold"]),
            ),
            scale_action=ScaleAction(direction=rule["direction"], type="ChangeCount",
                                     value=str(rule["change"]), cooldown=span("cooldown")),
        ))
    capacity = ScaleCapacity(minimum=str(wanted["min_instances"]),
                             maximum=str(wanted["max_instances"]),
                             default=str(wanted["default_instances"]))
    return AutoscaleSettingResource(
        location=endpoint.location, target_resource_uri=deployment_id, enabled=True,
        profiles=[AutoscaleProfile(name="azml-components", capacity=capacity, rules=rules)],
    )


def azml_autoscale_shape(setting) -> str:
    # What decides a setting's behaviour, as comparable text: target, enabled, profiles.
    import json

    data = setting.as_dict()
    kept = {key: data.get(key) for key in ("target_resource_uri", "enabled", "profiles")}
    kept["target_resource_uri"] = str(kept["target_resource_uri"] or "").lower()
    return json.dumps(kept, sort_keys=True, default=str)


def azml_apply_autoscale(client, endpoint_name: str, deployment_name: str, wanted: dict) -> bool:
    # Create or update the deployment's autoscale setting; True when something was written.
    # Nothing is written when the setting already is what `wanted` makes (the no-op redeploy).
    # wanted: azml_check_autoscale's result; {} leaves any autoscale setting as it is.
    if not wanted:
        return False
    from azure.core.exceptions import ResourceNotFoundError

    endpoint = azml_call(f"reading endpoint {endpoint_name!r}", client.online_endpoints.get,
                         endpoint_name)
    monitor = azml_monitor_client(client)
    name = azml_autoscale_setting_name(endpoint_name, deployment_name)
    setting = azml_autoscale_resource(wanted, endpoint, deployment_name)
    group = client.resource_group_name
    try:
        live = azml_call(f"reading autoscale setting {name!r}", monitor.autoscale_settings.get,
                         group, name)
    except RuntimeError as error:
        if not isinstance(error.__cause__, ResourceNotFoundError):
            raise
        live = None
    if live is not None and azml_autoscale_shape(live) == azml_autoscale_shape(setting):
        return False
    azml_call(f"writing autoscale setting {name!r}", monitor.autoscale_settings.create_or_update,
              group, name, setting)
    return True


def azml_remove_autoscale(client, target_id: str) -> list:
    # Delete every autoscale setting of the workspace's resource group whose target is
    # `target_id` (a deployment's ARM id) or lies under it (an endpoint's id: all its
    # deployments); returns their names. ARM ids compare without case.
    monitor = azml_monitor_client(client)
    group = client.resource_group_name
    prefix = target_id.lower().rstrip("/")
    try:
        settings = azml_call(
            f"listing autoscale settings of resource group {group!r}",
            lambda: list(monitor.autoscale_settings.list_by_resource_group(group)),
        )
    except RuntimeError as error:
        # An identity without microsoft.insights/autoscalesettings/read still deletes what it
        # was asked to delete; what it cannot see is named as left, not a failed deletion.
        if getattr(error.__cause__, "status_code", None) != 403:
            raise
        print(f"Note: {error}. Autoscale settings that target {target_id} (if any) are left: "
              "delete them in the Azure portal, or give the identity "
              "microsoft.insights/autoscalesettings/read and delete.")
        return []
    removed = []
    for setting in settings:
        target = str(setting.target_resource_uri or "").lower().rstrip("/")
        if target == prefix or target.startswith(prefix + "/"):
            azml_call(f"deleting autoscale setting {setting.name!r}",
                      monitor.autoscale_settings.delete, group, setting.name)
            removed.append(setting.name)
    return removed


def azml_online_deployment_id(client, endpoint_name: str, deployment_name: str) -> str:
    # An online deployment's ARM id in the client's workspace.
    return (f"/subscriptions/{client.subscription_id}/resourceGroups/"
            f"{client.resource_group_name}/providers/Microsoft.MachineLearningServices/"
            f"workspaces/{client.workspace_name}/onlineEndpoints/{endpoint_name}/deployments/"
            f"{deployment_name}")
