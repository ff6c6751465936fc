# create_monitor: an Azure ML model monitor (a schedule whose action creates a monitor) for an
# online deployment, with azure-ai-ml's MonitorSchedule, MonitorDefinition, DataDriftSignal,
# PredictionDriftSignal, DataQualitySignal and AlertNotification (Microsoft's "Monitor the
# performance of models deployed to production", how-to-monitor-model-performance, "Set up
# advanced model monitoring"). Metric names and threshold rules are check_drift's
# (drift_metrics), so a monitor and a pipeline step measure the same way.
from typing import Optional

from azml_components.runtime.azure_client import azml_ml_client
from azml_components.runtime.calls import azml_call, azml_get_or_none, azml_wait
from azml_components.runtime.drift_data import azml_window
from azml_components.runtime.drift_metrics import azml_check_drift_settings
from azml_components.runtime.records import AzmlDriftSettings
from azml_components.runtime.validation import (
    azml_check_asset_name,
    azml_check_choice,
    azml_check_online_name,
    azml_check_range,
)


def azml_check_monitor_inputs(monitor_name: str, endpoint_name: str, deployment_name: str,
                              baseline_data: str, production_data: str, outputs_data: str,
                              emails: list, ml_task: str, frequency: str, interval: int,
                              hour: int, minute: int, lookback_window: str) -> None:
    # Every rule before the first call to Azure; each error names its input.
    import re

    azml_check_asset_name("monitor_name", monitor_name)  # Schedules' {name} pattern (spec)
    azml_check_online_name("endpoint_name", endpoint_name)
    azml_check_online_name("deployment_name", deployment_name)
    for field, value, required in (("baseline_data", baseline_data, True),
                                   ("production_data", production_data, False),
                                   ("outputs_data", outputs_data, False)):
        if (value or required) and not re.fullmatch(r"azureml:[A-Za-z0-9][A-Za-z0-9_-]*:[^:/]+",
                                                    value or ""):
            raise ValueError(f"{field}: {value!r} must name a registered data asset as "
                             "azureml:NAME:VERSION (Azure ML monitors read data assets)")
    if not isinstance(emails, list) or not all(
            isinstance(e, str) and re.fullmatch(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+", e) for e in emails):
        raise ValueError(f"emails: {emails!r} must be a list of e-mail addresses")
    if len(",".join(emails)) > 499:  # MonitorEmailNotificationSettings.emails (REST spec)
        raise ValueError("emails: the list is longer than Azure's 499 characters in total")
    azml_check_choice("ml_task", ml_task, ["classification", "regression"])
    azml_check_choice("frequency", frequency, ["minute", "hour", "day", "week", "month"])
    azml_check_range("interval", interval, 1)
    azml_check_range("hour", hour, 0, 23)
    azml_check_range("minute", minute, 0, 59)
    azml_window("", lookback_window)


def azml_monitor_thresholds(settings: AzmlDriftSettings) -> tuple:
    # The SDK's threshold entities for the three signals, from check_drift's settings.
    from azure.ai.ml.entities import (
        CategoricalDriftMetrics,
        DataDriftMetricThreshold,
        DataQualityMetricsCategorical,
        DataQualityMetricsNumerical,
        DataQualityMetricThreshold,
        NumericalDriftMetrics,
        PredictionDriftMetricThreshold,
    )

    numerical = {settings.numerical_metric: settings.numerical_threshold}
    categorical = {settings.categorical_metric: settings.categorical_threshold}
    quality = {"null_value_rate": settings.null_value_rate_threshold,
               "data_type_error_rate": settings.data_type_error_rate_threshold,
               "out_of_bounds_rate": settings.out_of_bounds_rate_threshold}
    return (
        DataDriftMetricThreshold(numerical=NumericalDriftMetrics(**numerical),
                                 categorical=CategoricalDriftMetrics(**categorical)),
        PredictionDriftMetricThreshold(numerical=NumericalDriftMetrics(**numerical),
                                       categorical=CategoricalDriftMetrics(**categorical)),
        DataQualityMetricThreshold(numerical=DataQualityMetricsNumerical(**quality),
                                   categorical=DataQualityMetricsCategorical(**quality)),
    )


def azml_monitor_schedule(spec: dict, settings: AzmlDriftSettings, fingerprint: str):
    # The MonitorSchedule entity; production data left out is filled by the SDK from the
    # deployment's data collector (model_inputs / model_outputs assets), as Azure documents.
    from azure.ai.ml import Input
    from azure.ai.ml.entities import (
        AlertNotification,
        BaselineDataRange,
        DataDriftSignal,
        DataQualitySignal,
        MonitorDefinition,
        MonitoringTarget,
        MonitorSchedule,
        PredictionDriftSignal,
        ProductionData,
        RecurrencePattern,
        RecurrenceTrigger,
        ReferenceData,
        ServerlessSparkCompute,
    )

    drift, prediction, quality = azml_monitor_thresholds(settings)
    reference = ReferenceData(input_data=Input(path=spec["baseline_data"], type="mltable"),
                              data_context="training")
    window = BaselineDataRange(lookback_window_size=spec["lookback_window"],
                               lookback_window_offset="P0D")

    def production(uri: str, context: str):
        return ProductionData(input_data=Input(path=uri, type="uri_folder"),
                              data_context=context, data_window=window) if uri else None

    inputs = production(spec["production_data"], "model_inputs")
    signals = {
        "data-drift": DataDriftSignal(production_data=inputs, reference_data=reference,
                                      metric_thresholds=drift),
        "data-quality": DataQualitySignal(production_data=inputs, reference_data=reference,
                                          metric_thresholds=quality),
        "prediction-drift": PredictionDriftSignal(
            production_data=production(spec["outputs_data"], "model_outputs"),
            reference_data=reference, metric_thresholds=prediction),
    }
    return MonitorSchedule(
        name=spec["monitor_name"],
        trigger=RecurrenceTrigger(frequency=spec["frequency"], interval=spec["interval"],
                                  schedule=RecurrencePattern(hours=[spec["hour"]],
                                                             minutes=[spec["minute"]])),
        create_monitor=MonitorDefinition(
            compute=ServerlessSparkCompute(instance_type=spec["instance_type"],
                                           runtime_version=spec["runtime_version"]),
            monitoring_target=MonitoringTarget(
                ml_task=spec["ml_task"],
                endpoint_deployment_id=f"azureml:{spec['endpoint_name']}:"
                                       f"{spec['deployment_name']}"),
            monitoring_signals=signals,
            alert_notification=AlertNotification(emails=spec["emails"]) if spec["emails"]
            else None),
        tags={**spec["tags"], "azml_monitor_spec": fingerprint},
    )


def azml_check_collected(client, spec: dict) -> None:
    # Without production_data / outputs_data the deployment must collect model_inputs and
    # model_outputs (the SDK's _resolve_monitor_schedule_arm_id refuses otherwise): read first.
    deployment = azml_get_or_none(
        f"reading deployment {spec['endpoint_name']}/{spec['deployment_name']}",
        client.online_deployments.get, spec["deployment_name"], spec["endpoint_name"],
        client=client)
    if deployment is None:
        raise ValueError(f"deployment_name: {spec['deployment_name']!r} is not a deployment of "
                         f"endpoint {spec['endpoint_name']!r}")
    collections = getattr(getattr(deployment, "data_collector", None), "collections", None) or {}
    for field, collection in (("production_data", "model_inputs"),
                              ("outputs_data", "model_outputs")):
        found = collections.get(collection)
        on = found is not None and str(getattr(found, "enabled", "")).lower() == "true"
        if not spec[field] and not on:
            raise ValueError(f"{field}: deployment {spec['endpoint_name']}/"
                             f"{spec['deployment_name']} does not collect {collection} (its "
                             "data_collector); give the data asset to monitor")


def azml_create_monitor(
    subscription_id: str, resource_group: str, workspace_name: str, monitor_name: str,
    endpoint_name: str, deployment_name: str, baseline_data: str, production_data: str = "",
    outputs_data: str = "", emails: Optional[list] = None, ml_task: str = "regression",
    frequency: str = "day", interval: int = 1, hour: int = 3, minute: int = 15,
    lookback_window: str = "P1D", instance_type: str = "standard_e4s_v3",
    runtime_version: str = "3.4", tags: Optional[dict] = None,
    settings: Optional[AzmlDriftSettings] = None, timeout_seconds: int = 600, client=None,
) -> dict:
    # Create or update the monitor; an existing one made from the same inputs is left alone.
    import hashlib
    import json

    settings = azml_check_drift_settings(settings or AzmlDriftSettings())
    emails = list(emails or [])
    azml_check_monitor_inputs(monitor_name, endpoint_name, deployment_name, baseline_data,
                              production_data, outputs_data, emails, ml_task, frequency,
                              interval, hour, minute, lookback_window)
    spec = {"monitor_name": monitor_name, "endpoint_name": endpoint_name,
            "deployment_name": deployment_name, "baseline_data": baseline_data,
            "production_data": production_data, "outputs_data": outputs_data,
            "emails": emails, "ml_task": ml_task, "frequency": frequency, "interval": interval,
            "hour": hour, "minute": minute, "lookback_window": lookback_window,
            "instance_type": instance_type, "runtime_version": runtime_version,
            "tags": {str(k): str(v) for k, v in (tags or {}).items()},
            "settings": settings._asdict()}
    fingerprint = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]
    if client is None:
        client = azml_ml_client(subscription_id, resource_group, workspace_name)
    existing = azml_get_or_none(f"reading schedule {monitor_name}", client.schedules.get,
                                monitor_name, client=client)
    result = {"monitor_name": monitor_name, "fingerprint": fingerprint, "unchanged": False}
    if existing is not None and (existing.tags or {}).get("azml_monitor_spec") == fingerprint \
            and existing.is_enabled:
        return {**result, "unchanged": True}
    azml_check_collected(client, spec)
    schedule = azml_monitor_schedule(spec, settings, fingerprint)
    poller = azml_call(f"writing schedule {monitor_name}", client.schedules.begin_create_or_update,
                       schedule)
    written = azml_wait(f"creating monitor {monitor_name}", poller.result, timeout_seconds)
    return {**result, "provisioning_state": str(getattr(written, "provisioning_state", "")),
            "signals": sorted(schedule.create_monitor.monitoring_signals)}
