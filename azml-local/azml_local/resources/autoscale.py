"""Azure Monitor autoscale settings (Microsoft.Insights/autoscalesettings) of online deployments.

The resource as the REST API spec defines it (azure-rest-api-specs, specification/monitor/
resource-manager/Microsoft.Insights/stable/2022-10-01/autoscale_API.json, the api-version
azure-mgmt-monitor 7.0.0 calls): PUT, GET, DELETE and the resource group's list, with the
spec's rules checked and a 400 otherwise. Microsoft's "Autoscale online endpoints in Azure
Machine Learning" (how-to-autoscale-endpoints) puts the setting on the deployment
(targetResourceUri = its ARM id), with rules on the metrics of the deployment or its endpoint.

What local mode does NOT do: evaluate rules or change a deployment's instance count. The setting
is stored, validated and served back; no metric is collected and no scaling decision is made
(azml-local/README.md). Like Azure, deleting the target does not delete the setting.
"""

from __future__ import annotations

import re
from typing import Any

from azml_local.infra.web import ApiError, Request, Response, Router, bad_request
from azml_local.resources.context import LOCATION, Context, field_of
from azml_local.resources.tags import checked_tags

RG = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Insights/autoscalesettings"
SETTING = RG + "/{name}"
TYPE = "Microsoft.Insights/autoscaleSettings"
ML = "microsoft.machinelearningservices/workspaces/onlineendpoints"
# Metric names per resource type, from Azure Monitor's "Supported metrics" reference pages for
# Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments and .../onlineEndpoints
# (every one with the time grain PT1M only).
DEPLOYMENT_METRICS = {
    "CpuMemoryUtilizationPercentage", "CpuUtilizationPercentage", "DataCollectionErrorsPerMinute",
    "DataCollectionEventsPerMinute", "DeploymentCapacity", "DiskUtilization", "GpuEnergyJoules",
    "GpuMemoryUtilizationPercentage", "GpuUtilizationPercentage", "RequestLatency_P50",
    "RequestLatency_P90", "RequestLatency_P95", "RequestLatency_P99", "RequestsPerMinute",
}
ENDPOINT_METRICS = {
    "ConnectionsActive", "DataCollectionErrorsPerMinute", "DataCollectionEventsPerMinute",
    "NetworkBytes", "NewConnectionsPerSecond", "RequestLatency", "RequestLatency_P50",
    "RequestLatency_P90", "RequestLatency_P95", "RequestLatency_P99", "RequestsPerMinute",
}
# The spec's enums (x-ms-enum modelAsString false: nothing else is accepted).
STATISTICS = {"Average", "Min", "Max", "Sum", "Count"}
AGGREGATIONS = {"Average", "Minimum", "Maximum", "Total", "Count", "Last"}
OPERATORS = {"Equals", "NotEquals", "GreaterThan", "GreaterThanOrEqual", "LessThan",
             "LessThanOrEqual"}
DIRECTIONS = {"None", "Increase", "Decrease"}
SCALE_TYPES = {"ChangeCount", "PercentChangeCount", "ExactCount", "ServiceAllowedNextValue"}
DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")


def _seconds(value: Any, where: str) -> float:
    match = DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None or value in ("P", "PT") or value.endswith("T"):
        raise bad_request(f"'{where}' must be an ISO 8601 duration; got {value!r}.")
    weeks, days, hours, minutes = (int(part or 0) for part in match.groups()[:4])
    return (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + float(match.group(5) or 0)


def _count(value: Any, where: str) -> int:
    # ScaleCapacity and ScaleAction.value are strings in the spec holding whole numbers.
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]+", str(value)):
        raise bad_request(f"'{where}' must be a whole number of instances; got {value!r}.")
    return int(value)


def _check_capacity(capacity: dict, where: str) -> None:
    low = _count(field_of(capacity, "minimum", (str, int)), f"{where}.minimum")
    high = _count(field_of(capacity, "maximum", (str, int)), f"{where}.maximum")
    default = _count(field_of(capacity, "default", (str, int)), f"{where}.default")
    if low > high:
        raise bad_request(f"'{where}': the minimum ({low}) is more than the maximum ({high}).")
    if not low <= default <= high:
        raise bad_request(f"'{where}': the default ({default}) must be between the minimum "
                          f"({low}) and the maximum ({high}).")


def _check_trigger(ctx: Context, trigger: dict, where: str) -> None:
    name = field_of(trigger, "metricName", str)
    uri = field_of(trigger, "metricResourceUri", str)
    target = ctx.store.get(uri)
    kind = (target or {}).get("type", "").lower()
    if kind not in (ML, ML + "/deployments"):
        raise bad_request(f"'{where}.metricResourceUri': resource '{uri}' was not found (local "
                          "mode knows online endpoints and deployments).", "ResourceNotFound")
    known = DEPLOYMENT_METRICS if kind.endswith("/deployments") else ENDPOINT_METRICS
    if name not in known:
        raise bad_request(f"'{where}.metricName': metric '{name}' is not supported for resource "
                          f"type '{target['type']}' (supported: {', '.join(sorted(known))}).")
    namespace = field_of(trigger, "metricNamespace", str, required=False)
    if namespace and namespace.lower() != kind:
        raise bad_request(f"'{where}.metricNamespace': '{namespace}' is not the namespace of "
                          f"'{uri}' ({target['type']}).")
    for key, allowed in (("statistic", STATISTICS), ("timeAggregation", AGGREGATIONS),
                         ("operator", OPERATORS)):
        if field_of(trigger, key, str) not in allowed:
            raise bad_request(f"'{where}.{key}' must be one of {', '.join(sorted(allowed))}.")
    field_of(trigger, "threshold", (int, float))
    # timeGrain: "one of the predefined values returned from metric definitions for the metric"
    # (PT1M for these); timeWindow "between 12 hours and 5 minutes".
    if _seconds(field_of(trigger, "timeGrain", str), f"{where}.timeGrain") != 60:
        raise bad_request(f"'{where}.timeGrain' must be PT1M, the time grain of '{name}'.")
    if not 300 <= _seconds(field_of(trigger, "timeWindow", str), f"{where}.timeWindow") <= 43200:
        raise bad_request(f"'{where}.timeWindow' must be between 5 minutes and 12 hours.")


def _check_action(action: dict, where: str) -> None:
    if field_of(action, "direction", str) not in DIRECTIONS:
        raise bad_request(f"'{where}.direction' must be one of {', '.join(sorted(DIRECTIONS))}.")
    if field_of(action, "type", str) not in SCALE_TYPES:
        raise bad_request(f"'{where}.type' must be one of {', '.join(sorted(SCALE_TYPES))}.")
    # value: "This value must be 1 or greater. The default value is 1."
    if _count(action.get("value", "1"), f"{where}.value") < 1:
        raise bad_request(f"'{where}.value' must be 1 or greater.")
    # cooldown: "It must be between 1 week and 1 minute".
    if not 60 <= _seconds(field_of(action, "cooldown", str), f"{where}.cooldown") <= 604800:
        raise bad_request(f"'{where}.cooldown' must be between 1 minute and 1 week.")


def check_setting(ctx: Context, props: dict) -> None:
    """The AutoscaleSetting's rules (a 400 for the first one broken)."""
    target = field_of(props, "targetResourceUri", str)
    found = ctx.store.get(target)
    if found is None or found.get("type", "").lower() != ML + "/deployments":
        raise bad_request(f"'targetResourceUri': resource '{target}' was not found or cannot be "
                          "autoscaled (local mode scales online deployments).", "ResourceNotFound")
    profiles = field_of(props, "profiles", list)
    if not 1 <= len(profiles) <= 20:  # "A maximum of 20 profiles can be specified."
        raise bad_request("'profiles' must hold between 1 and 20 profiles.")
    for p, profile in enumerate(profiles):
        where = f"profiles[{p}]"
        if not isinstance(profile, dict):
            raise bad_request(f"'{where}' must be an object.")
        field_of(profile, "name", str)
        _check_capacity(field_of(profile, "capacity", dict), f"{where}.capacity")
        rules = field_of(profile, "rules", list)
        if len(rules) > 10:  # "A maximum of 10 rules can be specified."
            raise bad_request(f"'{where}.rules' can hold at most 10 rules.")
        for r, rule in enumerate(rules):
            if not isinstance(rule, dict):
                raise bad_request(f"'{where}.rules[{r}]' must be an object.")
            _check_trigger(ctx, field_of(rule, "metricTrigger", dict),
                           f"{where}.rules[{r}].metricTrigger")
            _check_action(field_of(rule, "scaleAction", dict), f"{where}.rules[{r}].scaleAction")
    field_of(props, "enabled", bool, required=False)


def _check_scope(ctx: Context, request: Request) -> None:
    # ARM's answers for a subscription or resource group that does not exist (context.py): the
    # groups of every workspace local mode holds.
    groups = ctx.resource_groups()
    sub, group = request.params["sub"].lower(), request.params["rg"].lower()
    if sub not in {s for s, _ in groups}:
        raise ApiError(404, "SubscriptionNotFound",
                       f"The subscription '{request.params['sub']}' could not be found.")
    if (sub, group) not in groups:
        raise ApiError(404, "ResourceGroupNotFound",
                       f"Resource group '{request.params['rg']}' could not be found.")


def add_routes(router: Router, ctx: Context) -> None:
    def rid(request: Request) -> str:
        p = request.params
        return SETTING.format(sub=p["sub"], rg=p["rg"], name=p["name"])

    def put_setting(request: Request) -> Response:
        _check_scope(ctx, request)
        body = request.json_object()
        location = field_of(body, "location", str)
        props = field_of(body, "properties", dict)
        tags = checked_tags(body)
        check_setting(ctx, props)
        with ctx.store.lock:
            previous = ctx.store.get(rid(request))
            name = previous["name"] if previous else request.params["name"]
            record = {
                "id": previous["id"] if previous else rid(request),
                "name": name,
                "type": TYPE,
                "location": previous["location"] if previous else location or LOCATION,
                "tags": tags,
                "properties": {**props, "name": name, "enabled": props.get("enabled", True)},
            }
            ctx.store.put(record)
        return Response(200 if previous else 201, record)

    def get_setting(request: Request) -> Response:
        _check_scope(ctx, request)
        found = ctx.store.get(rid(request))
        if found is None:
            raise ApiError(404, "ResourceNotFound", f"The Resource '{TYPE}/"
                           f"{request.params['name']}' under resource group "
                           f"'{request.params['rg']}' was not found.")
        return Response(200, found)

    def delete_setting(request: Request) -> Response:
        _check_scope(ctx, request)
        if ctx.store.get(rid(request)) is None:
            return Response(204)
        ctx.store.delete(rid(request))
        return Response(200)

    def list_settings(request: Request) -> Response:
        _check_scope(ctx, request)
        found = [b for b in ctx.store.all() if b.get("type") == TYPE]
        return Response(200, {"value": found})

    router.add("GET", RG, list_settings)
    router.add("PUT", SETTING, put_setting)
    router.add("GET", SETTING, get_setting)
    router.add("DELETE", SETTING, delete_setting)
