"""Schedules (workspaces/{ws}/schedules/{name}): stored and validated, monitor schedules above all.

The resource as the REST API spec defines it (azure-rest-api-specs, specification/
machinelearningservices/resource-manager/Microsoft.MachineLearningServices, stable 2024-04-01 and
later: Schedules_CreateOrUpdate / _Get / _List / _Delete; the models as azure-ai-ml 1.35.2 ships
them for api-version 2025-12-01 in _restclient/arm_ml_service/models/_models.py and _enums.py):
PUT and DELETE are long-running operations answered 200/201/202 with Azure-AsyncOperation, GET
reads one, the list returns {"value": [...]}. The rules checked here are the spec's required
fields and enums; a body that breaks one gets 400 before anything is stored.

The SDK sends some fields in the shapes of earlier api-versions (a monitor's production data
window as inputDataType "Trailing", the spec's "Rolling" since 2023-10-01; metric names in camel
case; alertNotificationSetting), which Azure accepts from its own SDK: so does local mode.

What local mode does NOT do: trigger a schedule. The schedule is stored and served back; no job
or monitoring run starts (azml-local/README.md). check_drift computes the same signals on demand.
"""

from __future__ import annotations

import re
from typing import Any

from azml_local.infra.web import Request, Response, Router, bad_request, not_found
from azml_local.resources.context import (
    WS,
    Context,
    caller,
    check_string_map,
    duration_seconds,
    field_of,
    properties_of,
    system_data,
)

SCHEDULE = WS + "/schedules/{name}"
TYPE = "Microsoft.MachineLearningServices/workspaces/schedules"
# The spec's name pattern for workspace child resources (Schedules_CreateOrUpdate's {name}).
NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$")
# Enums (_enums.py): ScheduleActionType, TriggerType, RecurrenceFrequency, WeekDay,
# MonitorComputeType, MonitorComputeIdentityType, ModelTaskType, MonitoringSignalType,
# MonitoringInputDataType (+ Trailing, its earlier name), MonitoringFeatureDataType, JobInputType,
# MonitoringNotificationMode; compared without case, as the SDK writes some in lower case.
ACTIONS = {"createjob", "invokebatchendpoint", "createmonitor"}
TRIGGERS = {"recurrence", "cron"}
FREQUENCIES = {"minute", "hour", "day", "week", "month"}
WEEK_DAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
IDENTITIES = {"amltoken", "managedidentity"}
TASKS = {"classification", "regression"}
DATA_TYPES = {"static", "rolling", "trailing", "fixed"}
FEATURE_TYPES = {"numerical", "categorical"}
INPUT_TYPES = {"literal", "uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model",
               "triton_model"}
MODES = {"disabled", "enabled"}
DRIFT = {"numerical": {"jensenshannondistance", "populationstabilityindex",
                       "normalizedwassersteindistance", "twosamplekolmogorovsmirnovtest"},
         "categorical": {"jensenshannondistance", "populationstabilityindex",
                         "pearsonschisquaredtest"}}
QUALITY = {"nullvaluerate", "datatypeerrorrate", "outofboundsrate"}
SIGNAL_METRICS = {"datadrift": DRIFT, "predictiondrift": DRIFT,
                  "dataquality": {"numerical": QUALITY, "categorical": QUALITY}}
SIGNALS = set(SIGNAL_METRICS) | {"featureattributiondrift", "custom"}
# MonitorEmailNotificationSettings.emails: "a limitation of 499 characters in total".
EMAILS_MAX_CHARS = 499


def _choice(body: dict[str, Any], path: str, allowed: set[str], required: bool = True) -> str:
    value = field_of(body, path, str, required=required)
    if value is not None and value.lower() not in allowed:
        raise bad_request(f"'{path}' has the unknown value {value!r}.")
    return (value or "").lower()


def _check_trigger(trigger: dict[str, Any]) -> None:
    kind = _choice(trigger, "triggerType", TRIGGERS)
    if kind == "cron":
        field_of(trigger, "expression", str)
        return
    _choice(trigger, "frequency", FREQUENCIES)
    if field_of(trigger, "interval", int) < 1:
        raise bad_request("'trigger.interval' must be at least 1.")
    pattern = field_of(trigger, "schedule", dict, required=False) or {}
    for key, low, high in (("hours", 0, 23), ("minutes", 0, 59)):
        values = field_of(pattern, key, list, required=False) or []
        if not all(isinstance(v, int) and low <= v <= high for v in values):
            raise bad_request(f"'trigger.schedule.{key}' values must be {low}-{high}.")
    days = field_of(pattern, "weekDays", list, required=False) or []
    if not all(isinstance(d, str) and d.lower() in WEEK_DAYS for d in days):
        raise bad_request(f"'trigger.schedule.weekDays' has an unknown day in {days!r}.")


def _check_input(signal: dict[str, Any], key: str, where: str) -> None:
    data = field_of(signal, key, dict)
    _choice(data, "jobInputType", INPUT_TYPES)
    field_of(data, "uri", str)
    kind = _choice(data, "inputDataType", DATA_TYPES)
    if kind in ("rolling", "trailing"):
        size = field_of(data, "windowSize", str)
        if size.lower() != "default" and not duration_seconds(size):
            raise bad_request(f"'{where}.{key}.windowSize' must be an ISO 8601 duration.")


def _check_signal(name: str, signal: dict[str, Any]) -> None:
    where = f"signals.{name}"
    kind = _choice(signal, "signalType", SIGNALS)
    _choice(signal, "mode", MODES, required=False)
    if kind not in SIGNAL_METRICS:
        return
    _check_input(signal, "productionData", where)
    _check_input(signal, "referenceData", where)
    thresholds = field_of(signal, "metricThresholds", list)
    if not thresholds:
        raise bad_request(f"'{where}.metricThresholds' must not be empty.")
    for item in thresholds:
        if not isinstance(item, dict):
            raise bad_request(f"'{where}.metricThresholds' items must be objects.")
        data_type = _choice(item, "dataType", FEATURE_TYPES)
        metric = field_of(item, "metric", str)
        if metric.lower() not in SIGNAL_METRICS[kind][data_type]:
            raise bad_request(f"'{where}.metricThresholds.metric' {metric!r} is not a "
                              f"{data_type} metric of {signal['signalType']}.")
        value = (field_of(item, "threshold", dict, required=False) or {}).get("value")
        if value is not None and (not isinstance(value, (int, float)) or value < 0):
            raise bad_request(f"'{where}.metricThresholds.threshold.value' must be >= 0.")


def _check_monitor(definition: dict[str, Any]) -> None:
    compute = field_of(definition, "computeConfiguration", dict)
    _choice(compute, "computeType", {"serverlessspark"})
    field_of(compute, "instanceType", str)
    field_of(compute, "runtimeVersion", str)
    _choice(compute, "computeIdentity.computeIdentityType", IDENTITIES)
    target = field_of(definition, "monitoringTarget", dict, required=False)
    if target is not None:
        _choice(target, "taskType", TASKS)
    signals = field_of(definition, "signals", dict)
    if not signals:
        raise bad_request("'monitorDefinition.signals' must name at least one signal.")
    for name, signal in signals.items():
        if not isinstance(signal, dict):
            raise bad_request(f"'signals.{name}' must be an object.")
        _check_signal(name, signal)
    for path in ("alertNotificationSettings.emailNotificationSettings.emails",
                 "alertNotificationSetting.emailNotificationSetting.emails"):
        emails = field_of(definition, path, list, required=False) or []
        if len(",".join(str(e) for e in emails)) > EMAILS_MAX_CHARS:
            raise bad_request(f"'{path}' is longer than {EMAILS_MAX_CHARS} characters in total.")


def checked(body: dict[str, Any]) -> dict[str, Any]:
    """The schedule's properties, checked against the spec's rules (400 otherwise)."""
    props = properties_of(body)
    action = field_of(props, "action", dict)
    if _choice(action, "actionType", ACTIONS) == "createmonitor":
        _check_monitor(field_of(action, "monitorDefinition", dict))
    _check_trigger(field_of(props, "trigger", dict))
    field_of(props, "isEnabled", bool, required=False)
    field_of(props, "displayName", str, required=False)
    field_of(props, "description", str, required=False)
    # ResourceBase.tags and .properties: string maps (Azure ML's own tags, not ARM's).
    check_string_map(props, "tags")
    check_string_map(props, "properties")
    return props


def add_routes(router: Router, ctx: Context) -> None:
    def rid_of(request: Request) -> str:
        workspace_id = ctx.workspace(request)["id"]
        return f"{workspace_id}/schedules/{request.params['name']}"

    def view(record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if not k.startswith("_")}

    def get(request: Request) -> Response:
        record = ctx.store.get(rid_of(request))
        if record is None:
            raise not_found("Schedule", request.params["name"])
        return Response(200, view(record))

    def list_all(request: Request) -> Response:
        workspace = ctx.workspace(request)
        return Response(200, {"value": [view(r) for r in ctx.store.children(
            workspace["id"], "schedules")]})

    def put(request: Request) -> Response:
        name = request.params["name"]
        if not NAME.match(name):
            raise bad_request(f"Schedule name '{name}' is invalid: 1-255 letters, digits, '-' or "
                              "'_', starting with a letter or digit.")
        body = request.json_object()
        props = dict(checked(body))
        rid = rid_of(request)
        with ctx.store.lock:
            previous = ctx.store.get(rid)
            props.update(isEnabled=props.get("isEnabled", True),
                         provisioningState="Updating" if previous else "Creating")
            record = {"id": previous["id"] if previous else rid,
                      "name": previous["name"] if previous else name, "type": TYPE,
                      "systemData": system_data(previous, caller(request)),
                      "properties": props}
            ctx.store.put(record)

        def settle(state: str) -> None:
            with ctx.store.lock:
                current = ctx.store.get(rid)
                if current is not None:
                    current["properties"]["provisioningState"] = state
                    ctx.store.put(current)

        headers = ctx.ops.start(request, rid, lambda: settle("Succeeded"),
                                lambda _: settle("Failed"))
        return Response(200 if previous else 201, view(record), headers)

    def delete(request: Request) -> Response:
        rid = rid_of(request)
        if ctx.store.get(rid) is None:
            return Response(204)
        headers = ctx.ops.start(request, rid, lambda: ctx.store.delete(rid), lambda _: None)
        return Response(202, None, headers)

    router.add("GET", WS + "/schedules", list_all)
    router.add("GET", SCHEDULE, get)
    router.add("PUT", SCHEDULE, put)
    router.add("DELETE", SCHEDULE, delete)
