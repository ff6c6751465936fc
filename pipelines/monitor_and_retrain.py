"""Example: deploy with data collection, a day of shifted traffic, check drift, retrain if drifted.

train -> register -> deploy (the deployment collects model_inputs and model_outputs, Azure ML's
data collector) -> send a day of traffic (shifted by ``shift`` standard deviations) -> check_drift
against the training data -> if drifted: retrain -> register -> safe_rollout of the new model.
"""

from typing import NamedTuple

from kfp import dsl

from azml_components import (
    check_drift,
    deploy_model,
    pins,
    register_model,
    safe_rollout,
    use_azure_credentials,
)
from azml_components._component import azure_component
from azml_components.runtime.azure_client import azml_ml_client
from azml_components.runtime.drift_data import azml_read_collected
from azml_components.runtime.invoke import azml_invoke_endpoint
from pipelines.diabetes_training import train_diabetes_model

#: Microsoft's deployment YAML keys ("Collect production data from models deployed for real-time
#: inferencing"): MLflow deployments log model_inputs and model_outputs without code.
DATA_COLLECTOR = {
    "collections": {"model_inputs": {"enabled": "True"}, "model_outputs": {"enabled": "True"}},
    "sampling_rate": 1.0,
    "rolling_rate": "Hour",
}


@dsl.component(base_image=pins.BASE_IMAGE, packages_to_install=pins.EXAMPLE_PACKAGES)
def diabetes_baseline(
    model: dsl.Input[dsl.Model],
    baseline: dsl.Output[dsl.Dataset],
    test_fraction: float = 0.2,
    seed: int = 42,
):
    """Write the training rows with the model's predictions: the baseline drift is measured from.

    Args:
        model: The MLflow model train_diabetes_model wrote.
        test_fraction: Share of rows the training held out (as train_diabetes_model).
        seed: Random seed of the train/test split (as train_diabetes_model).

    Returns:
        baseline: CSV of the training rows' features and a prediction column.

    """
    import mlflow.sklearn
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    data = load_diabetes(as_frame=True)
    rows, _, _, _ = train_test_split(data.data, data.target, test_size=test_fraction,
                                     random_state=seed)
    frame = rows.astype(float).copy()
    frame["prediction"] = mlflow.sklearn.load_model(model.path).predict(rows)
    frame.to_csv(baseline.path, index=False)
    baseline.metadata["rows"] = len(frame)


@azure_component
def send_traffic(
    resource_group: str,
    workspace_name: str,
    endpoint: dsl.Input[dsl.Artifact],
    baseline: dsl.Input[dsl.Dataset],
    shift: float = 1.0,
    requests: int = 24,
    rows_per_request: int = 40,
    seed: int = 7,
    collection: str = "model_inputs",
    wait_seconds: int = 120,
    subscription_id: str = "",
) -> NamedTuple("Outputs", [("rows_sent", int)]):
    """Send a "day" of traffic to the endpoint: one request per hour, rows from the baseline.

    Each feature is moved by ``shift`` times its standard deviation in the baseline (0 sends
    unshifted rows). Waits until the data collector has stored every row sent.

    Args:
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        endpoint: The endpoint output of deploy_model.
        baseline: The baseline CSV (features and a prediction column).
        shift: How far each feature moves, in standard deviations.
        requests: How many requests (the "hours" of the day).
        rows_per_request: Rows in each request.
        seed: Random seed of the rows drawn.
        collection: The collection whose stored rows are awaited.
        wait_seconds: How long to wait for the collected rows.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.

    Returns:
        rows_sent: Rows sent in all requests.

    """
    import csv
    import json
    import random
    import statistics
    import tempfile
    import time
    from collections import namedtuple
    from datetime import datetime, timedelta, timezone

    with open(baseline.path, newline="") as handle:
        rows = [{k: float(v) for k, v in row.items() if k != "prediction"}
                for row in csv.DictReader(handle)]
    columns = list(rows[0])
    spread = {c: statistics.pstdev(r[c] for r in rows) for c in columns}
    pick = random.Random(seed)
    endpoint_name = endpoint.metadata["endpoint_name"]
    deployment_name = endpoint.metadata["deployment_name"]
    client = azml_ml_client(subscription_id, resource_group, workspace_name)
    start = datetime.now(timezone.utc) - timedelta(minutes=1)
    for hour in range(requests):
        batch = [[pick.choice(rows)[c] + shift * spread[c] for c in columns]
                 for _ in range(rows_per_request)]
        payload = {"input_data": {"columns": columns, "index": list(range(len(batch))),
                                  "data": batch}}
        answer = azml_invoke_endpoint(subscription_id, resource_group, workspace_name,
                                      endpoint_name, json.dumps(payload),
                                      deployment_name=deployment_name, client=client)
        if answer["problems"]:
            raise RuntimeError(f"request {hour + 1} failed: {answer['problems']}")
    sent = requests * rows_per_request
    deadline = time.monotonic() + wait_seconds
    while True:
        end = datetime.now(timezone.utc) + timedelta(minutes=1)
        stored = azml_read_collected(client, endpoint_name, deployment_name, collection, start,
                                     end, tempfile.mkdtemp()).rows
        if stored >= sent or time.monotonic() > deadline:
            break
        time.sleep(2)
    print(f"sent {sent} rows in {requests} requests (shift {shift}); {stored} collected")
    if stored < sent:
        raise RuntimeError(f"only {stored} of {sent} rows were collected in {wait_seconds} s")
    return namedtuple("Outputs", ["rows_sent"])(sent)


@dsl.pipeline(
    name="monitor-and-retrain",
    description="Deploy the diabetes model with data collection, send a day of shifted traffic, "
    "check drift against the training data and, if it drifted, retrain, register and roll out.",
)
def monitor_and_retrain(
    resource_group: str,
    workspace_name: str,
    subscription_id: str = "",
    model_name: str = "diabetes-monitored",
    endpoint_name: str = "diabetes-monitored",
    deployment_name: str = "blue",
    retrained_deployment_name: str = "green",
    shift: float = 1.0,
    retrain_alpha: float = 0.05,
):
    """Deploy with data collection, check drift on a day of traffic, retrain when it drifted.

    Args:
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        model_name: Name to register the models under.
        endpoint_name: Online endpoint to create or update.
        deployment_name: The first deployment (it collects its inputs and outputs).
        retrained_deployment_name: The deployment of the retrained model.
        shift: How far the day's traffic moves from the training data (standard deviations).
        retrain_alpha: Ridge regularisation of the retrained model.

    """
    workspace = {"subscription_id": subscription_id, "resource_group": resource_group,
                 "workspace_name": workspace_name}
    lineage = {"pipeline_run_id": dsl.PIPELINE_JOB_ID_PLACEHOLDER,
               "pipeline_name": dsl.PIPELINE_JOB_NAME_PLACEHOLDER}
    train = train_diabetes_model(model_format="mlflow",
                                 scoring_requirements=pins.EXAMPLE_SCORING_PACKAGES)
    baseline = diabetes_baseline(model=train.outputs["model"])
    registered = use_azure_credentials(register_model(
        model=train.outputs["model"], model_name=model_name,
        model_type=train.outputs["model_type"], **lineage, **workspace))
    deployed = use_azure_credentials(deploy_model(
        registered_model=registered.outputs["registered_model"], endpoint_name=endpoint_name,
        deployment_name=deployment_name, data_collector=DATA_COLLECTOR, **lineage, **workspace))
    traffic = use_azure_credentials(send_traffic(
        endpoint=deployed.outputs["endpoint"], baseline=baseline.outputs["baseline"],
        shift=shift, **workspace))
    drift = use_azure_credentials(check_drift(
        endpoint=deployed.outputs["endpoint"], baseline=baseline.outputs["baseline"],
        prediction_column="prediction", outputs_collection="model_outputs", **workspace))
    drift.after(traffic)
    with dsl.If(drift.outputs["drift_detected"] == True, name="drifted"):  # noqa: E712
        retrain = train_diabetes_model(model_format="mlflow", alpha=retrain_alpha,
                                       scoring_requirements=pins.EXAMPLE_SCORING_PACKAGES)
        retrained = use_azure_credentials(register_model(
            model=retrain.outputs["model"], model_name=model_name,
            model_type=retrain.outputs["model_type"], **lineage, **workspace))
        use_azure_credentials(safe_rollout(
            registered_model=retrained.outputs["registered_model"],
            endpoint_name=endpoint_name, deployment_name=retrained_deployment_name,
            payload_file=retrain.outputs["smoke_request"], data_collector=DATA_COLLECTOR,
            **lineage, **workspace))


PIPELINE = monitor_and_retrain
