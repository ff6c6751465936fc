"""The create_monitor component."""

from typing import NamedTuple, Optional

from kfp import dsl

from azml_components._component import azure_component
from azml_components.runtime.monitor import azml_create_monitor
from azml_components.runtime.records import AzmlDriftSettings


@azure_component
def create_monitor(
    monitor_name: str,
    baseline_data: str,
    resource_group: str,
    workspace_name: str,
    monitor: dsl.Output[dsl.Artifact],
    endpoint: Optional[dsl.Input[dsl.Artifact]] = None,
    endpoint_name: str = "",
    deployment_name: str = "",
    production_data: str = "",
    outputs_data: str = "",
    emails: list = [],  # noqa: B006 - KFP reads defaults from the signature; never mutated
    ml_task: str = "regression",
    frequency: str = "day",
    interval: int = 1,
    hour: int = 3,
    minute: int = 15,
    lookback_window: str = "P1D",
    numerical_metric: str = "normalized_wasserstein_distance",
    numerical_threshold: float = 0.1,
    categorical_metric: str = "jensen_shannon_distance",
    categorical_threshold: float = 0.1,
    null_value_rate_threshold: float = 0.0,
    data_type_error_rate_threshold: float = 0.0,
    out_of_bounds_rate_threshold: float = 0.0,
    instance_type: str = "standard_e4s_v3",
    runtime_version: str = "3.4",
    tags: dict = {},  # noqa: B006
    timeout_seconds: int = 600,
    subscription_id: str = "",
) -> NamedTuple("Outputs", [("monitor_name", str), ("unchanged", bool)]):
    """Set up Azure ML model monitoring for an online deployment (a monitor schedule).

    The monitor runs on Azure's serverless Spark on the given recurrence and computes three
    signals against the baseline: data drift (per feature), prediction drift and data quality,
    with the same metrics and thresholds as check_drift (Azure ML's defaults unless given),
    and e-mails the alert recipients. Production data defaults to what the deployment's data
    collector registers (its model_inputs and model_outputs data assets); the deployment must
    then collect both. A re-run with the same inputs changes nothing (the schedule carries a
    fingerprint of them in the tag ``azml_monitor_spec``; ``unchanged`` is true); changed inputs
    update the schedule in place.

    Args:
        monitor_name: Name of the monitor schedule (letters, digits, '-' and '_').
        baseline_data: The reference data, a registered data asset (azureml:NAME:VERSION),
            such as the training data as an MLTable.
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        endpoint: The endpoint output of deploy_model or safe_rollout. Give this or
            endpoint_name.
        endpoint_name: Online endpoint to monitor (instead of endpoint).
        deployment_name: Deployment to monitor; empty takes the one the endpoint artifact names.
        production_data: The model inputs to monitor (azureml:NAME:VERSION); empty uses the
            deployment's collected model_inputs.
        outputs_data: The model outputs (azureml:NAME:VERSION) for prediction drift; empty uses
            the deployment's collected model_outputs.
        emails: Who gets the alerts (at most 499 characters together, Azure's limit).
        ml_task: classification or regression.
        frequency: How often the monitor runs: minute, hour, day, week or month.
        interval: Every how many frequency units it runs.
        hour: Hour of the day (UTC) it runs.
        minute: Minute of the hour it runs.
        lookback_window: Production data window per run (ISO 8601 duration, P1D).
        numerical_metric: Data and prediction drift metric of numerical features (as
            check_drift).
        numerical_threshold: Its threshold.
        categorical_metric: Data and prediction drift metric of categorical features.
        categorical_threshold: Its threshold.
        null_value_rate_threshold: Data quality: highest acceptable null rate.
        data_type_error_rate_threshold: Data quality: highest acceptable type error rate.
        out_of_bounds_rate_threshold: Data quality: highest acceptable out-of-bounds rate.
        instance_type: Serverless Spark instance type of the monitoring runs.
        runtime_version: Serverless Spark runtime version.
        tags: Tags of the schedule.
        timeout_seconds: How long the write may take.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.

    Returns:
        monitor: The monitor; its metadata carries monitor_name, fingerprint, unchanged and
            the signals.
        monitor_name: The monitor schedule's name.
        unchanged: True when the monitor already had these inputs and nothing was written.

    """
    from collections import namedtuple

    if endpoint is not None and not endpoint_name:
        endpoint_name = endpoint.metadata.get("endpoint_name", "")
        deployment_name = deployment_name or endpoint.metadata.get("deployment_name", "")
        if not endpoint_name:
            raise ValueError("endpoint: has no endpoint_name in its metadata; pass the endpoint "
                             "output of deploy_model or safe_rollout")
    result = azml_create_monitor(
        subscription_id=subscription_id, resource_group=resource_group,
        workspace_name=workspace_name, monitor_name=monitor_name, endpoint_name=endpoint_name,
        deployment_name=deployment_name, baseline_data=baseline_data,
        production_data=production_data, outputs_data=outputs_data, emails=emails,
        ml_task=ml_task, frequency=frequency, interval=interval, hour=hour, minute=minute,
        lookback_window=lookback_window, instance_type=instance_type,
        runtime_version=runtime_version, tags=tags, timeout_seconds=timeout_seconds,
        settings=AzmlDriftSettings(
            numerical_metric=numerical_metric, numerical_threshold=numerical_threshold,
            categorical_metric=categorical_metric, categorical_threshold=categorical_threshold,
            null_value_rate_threshold=null_value_rate_threshold,
            data_type_error_rate_threshold=data_type_error_rate_threshold,
            out_of_bounds_rate_threshold=out_of_bounds_rate_threshold,
        ),
    )
    monitor.metadata.update(result)
    state = "unchanged (same inputs)" if result["unchanged"] else "written"
    print(f"Monitor {monitor_name} on {endpoint_name}/{deployment_name}: {state}")
    outputs = namedtuple("Outputs", ["monitor_name", "unchanged"])
    return outputs(monitor_name, result["unchanged"])
