"""Data collection on online deployments (issue 22): Microsoft's sample through deploy_model, its
collected data in Azure's blob layout and schema, the data assets, payload logging, a collector
that cannot be reached, and the REST rules for dataCollector.

Sources: Microsoft's "Collect production data from models for real-time inferencing" (layout,
event schema, data asset names), azureml-ai-monitoring 1.0.0 (what a Collector posts) and the
REST API spec's DataCollector (azml_local/resources/data_collector.py and
azml_local/serving/data_collector.py cite them).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import requests
import yaml
from azml_local.fixture import LocalAzureML
from azml_local.serving.data_collector import CollectorConfig, Sidecar
from azure.ai.ml import MLClient
from azure.ai.ml.entities import (
    CodeConfiguration,
    DataCollector,
    DeploymentCollection,
    ManagedOnlineDeployment,
)
from azure.core.exceptions import HttpResponseError

from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.register import azml_register_model
from tests.helpers import (
    data_payload,
    diabetes_rows,
    unique,
    wait_for_collected,
    workspace,
    write_custom_model,
)

pytestmark = pytest.mark.timeout(900)  # the first run builds the sample's scoring environment

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "collect_production_data"
PAYLOAD = {"data": {"col1": [1, 2, 3], "col2": [2, 3, 4]}}
EVENT_KEYS = {"specversion", "id", "source", "type", "datacontenttype", "time", "data",
              "correlationid", "xrequestid", "modelversion", "collectdatatype", "agent",
              "contentrange"}
# {endpoint}/{deployment}/{collection}/{yyyy}/{MM}/{dd}/{HH}/{instance_id}.jsonl (rolling: Hour)
HOUR_PATH = r"modelDataCollector/{}/{}/{}/\d{{4}}/\d{{2}}/\d{{2}}/\d{{2}}/[0-9a-f-]{{36}}\.jsonl"


def _collector_of(name: str) -> dict:
    return yaml.safe_load((SAMPLE / name).read_text())["data_collector"]


@pytest.fixture(scope="module")
def sample(standin: LocalAzureML, ml_client: MLClient, tmp_path_factory) -> dict:
    # Microsoft's custom-logging sample deployed through deploy_model's runtime entry point
    # with its data_collector as written, and a payload-logging deployment beside it.
    root = tmp_path_factory.mktemp("collect")
    model_dir, code_dir, _ = write_custom_model(root / "custom")
    endpoint = unique("mdc")
    registered = azml_register_model(**workspace(), model_name=endpoint, model_path=str(model_dir))
    sample_options = {"code_path": str(SAMPLE), "scoring_script": "score.py",
                      "conda_file": (SAMPLE / "conda.yml").read_text(),
                      "data_collector": _collector_of("deployment.yml")}
    first = azml_deploy_model(**workspace(), endpoint_name=endpoint, deployment_name="blue",
                              model_id=registered["asset_id"], options=sample_options,
                              timeout_seconds=600)
    payload_collector = {**_collector_of("payload.yml"),
                         "request_logging": {"capture_headers": ["x-client-id"]}}
    azml_deploy_model(**workspace(), endpoint_name=endpoint, deployment_name="payload",
                      model_id=registered["asset_id"], traffic_percent=0, timeout_seconds=600,
                      options={"code_path": str(code_dir), "scoring_script": "score.py",
                               "conda_file": "conda.yaml", "data_collector": payload_collector})
    return {"endpoint": endpoint, "model_id": registered["asset_id"], "options": sample_options,
            "first": first, "code_dir": code_dir}


def _invoke(ml_client: MLClient, endpoint: str, deployment: str, body: dict, tmp_path) -> str:
    request = tmp_path / f"request-{deployment}.json"
    request.write_text(json.dumps(body))
    return ml_client.online_endpoints.invoke(endpoint, request_file=str(request),
                                             deployment_name=deployment)


def test_microsofts_sample_collects_in_azures_layout_and_registers_data_assets(
        ml_client: MLClient, sample: dict, tmp_path) -> None:
    endpoint = sample["endpoint"]
    for _ in range(2):
        answer = json.loads(_invoke(ml_client, endpoint, "blue", PAYLOAD, tmp_path))
        assert answer == {"prediction": {"0": 3, "1": 5, "2": 7}}
    inputs = wait_for_collected(ml_client, f"modelDataCollector/{endpoint}/blue/model_inputs/", 2)
    outputs = wait_for_collected(ml_client, f"modelDataCollector/{endpoint}/blue/model_outputs/",
                               2)
    for collection, found in (("model_inputs", inputs), ("model_outputs", outputs)):
        assert found and all(re.fullmatch(HOUR_PATH.format(endpoint, "blue", collection), name)
                             for name in found), found.keys()
        events = [event for lines in found.values() for event in lines]
        assert len(events) == 2
        for event in events:
            assert EVENT_KEYS <= set(event), set(event) ^ EVENT_KEYS
            assert event["specversion"] == "1.0"
            assert event["type"] == f"azureml.inference.{collection}"
            assert event["source"].lower().endswith(
                f"/onlineendpoints/{endpoint}/deployments/blue".lower())
            assert event["datacontenttype"] == "application/json"
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
            assert event["correlationid"] == event["xrequestid"]
            # the package's own type name, passed on (pandas.core.frame.DataFrame before pandas 3)
            assert event["collectdatatype"] in ("pandas.DataFrame", "pandas.core.frame.DataFrame")
            assert event["agent"] == "azureml-ai-monitoring/1.0.0"
            assert event["modelversion"] == "default"
            size = len(json.dumps(event["data"], separators=(",", ":")))
            assert event["contentrange"] == f"bytes 0-{size - 1}/{size}"
    input_events = [e for lines in inputs.values() for e in lines]
    output_events = [e for lines in outputs.values() for e in lines]
    assert input_events[0]["data"] == [{"col1": 1, "col2": 2}, {"col1": 2, "col2": 3},
                                       {"col1": 3, "col2": 4}]
    assert output_events[0]["data"] == [{"prediction": 3}, {"prediction": 5},
                                        {"prediction": 7}]
    # inputs and outputs of one request share the context's correlation id
    assert {e["correlationid"] for e in input_events} == {e["correlationid"]
                                                           for e in output_events}
    # The data assets Azure registers: <endpoint>-<deployment>-<collection>, version 1.
    for collection in ("model_inputs", "model_outputs"):
        asset = ml_client.data.get(f"{endpoint}-blue-{collection}", version="1")
        assert asset.type == "uri_folder"
        assert asset.path.rstrip("/").endswith(
            f"paths/modelDataCollector/{endpoint}/blue/{collection}")
    live = ml_client.online_deployments.get("blue", endpoint)
    assert {k: v.enabled for k, v in live.data_collector.collections.items()} == {
        "model_inputs": "true", "model_outputs": "true"}


def test_redeploying_the_same_data_collector_writes_nothing(sample: dict) -> None:
    again = azml_deploy_model(**workspace(), endpoint_name=sample["endpoint"],
                              deployment_name="blue", model_id=sample["model_id"],
                              options=sample["options"], timeout_seconds=600, traffic_percent=100)
    assert again["unchanged"] is True


def test_payload_logging_captures_bodies_correlation_id_and_headers_never_the_key(
        ml_client: MLClient, sample: dict) -> None:
    endpoint = ml_client.online_endpoints.get(sample["endpoint"])
    key = ml_client.online_endpoints.get_keys(endpoint.name).primary_key
    body = data_payload(diabetes_rows(2))
    answer = requests.post(endpoint.scoring_uri, data=body, timeout=60, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json",
        "azureml-model-deployment": "payload", "x-request-id": "corr-0001",
        "x-client-id": "client-7"})
    assert answer.status_code == 200, answer.text
    prefix = f"modelDataCollector/{endpoint.name}/payload/"
    found = wait_for_collected(ml_client, prefix, 2)
    names = list(found)
    assert any(re.fullmatch(HOUR_PATH.format(endpoint.name, "payload", "request"), n)
               for n in names), names
    assert any(re.fullmatch(HOUR_PATH.format(endpoint.name, "payload", "response"), n)
               for n in names), names
    events = {e["type"]: e for lines in found.values() for e in lines}
    request, response = events["azureml.inference.request"], events["azureml.inference.response"]
    assert request["data"] == json.loads(body) and response["data"] == answer.json()
    assert request["correlationid"] == request["xrequestid"] == "corr-0001"
    assert response["correlationid"] == "corr-0001"
    assert (request["path"], request["method"]) == ("/score", "POST")
    assert request["xclientid"] == "client-7"
    assert key not in json.dumps(found) and "Bearer" not in json.dumps(found)


def test_collection_never_breaks_scoring(standin: LocalAzureML, ml_client: MLClient,
                                         sample: dict, tmp_path) -> None:
    # The sample's script on its own deployment (payload logging on too), whose collector then
    # stops listening: the Collector's posts fail (azureml-ai-monitoring sends from a worker
    # thread and logs the failure), payload logging fails, and every request is answered.
    endpoint = sample["endpoint"]
    collector = sample["options"]["data_collector"]
    collections = {**collector["collections"], "request": {"enabled": "True"},
                   "response": {"enabled": "True"}}
    azml_deploy_model(**workspace(), endpoint_name=endpoint, deployment_name="down",
                      model_id=sample["model_id"], traffic_percent=0, timeout_seconds=600,
                      options={**sample["options"],
                               "data_collector": {**collector, "collections": collections}})
    assert standin.collector_down(endpoint, "down") is True
    for _ in range(3):
        answer = json.loads(_invoke(ml_client, endpoint, "down", PAYLOAD, tmp_path))
        assert answer == {"prediction": {"0": 3, "1": 5, "2": 7}}
    # The failed posts are in the deployment's log (the package logs them from its worker).
    deadline = time.monotonic() + 60
    while True:
        logs = ml_client.online_deployments.get_logs("down", endpoint, lines=400)
        if "mdc request raise exception" in logs or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "mdc request raise exception" in logs, logs[-2000:]


def test_an_mlflow_model_without_code_collects_its_inputs_and_outputs(
        ml_client: MLClient, sample: dict, tmp_path_factory) -> None:
    # No scoring script: Azure's MLflow scoring script collects model_inputs and model_outputs
    # itself (local mode's does the same, azml_local/serving/support/mlflow_score.py).
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LinearRegression

    root = tmp_path_factory.mktemp("mlflow-mdc")
    xs = np.arange(20, dtype=float).reshape(-1, 1)
    mlflow.sklearn.save_model(  # cloudpickle, as the other tests' MLflow models
        LinearRegression().fit(xs, 3.0 * xs.ravel() - 1.0), str(root / "model"),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
    registered = azml_register_model(**workspace(), model_name=unique("mlfmdc"),
                                     model_path=str(root / "model"), model_type="mlflow_model")
    on = {"enabled": "True"}
    azml_deploy_model(**workspace(), endpoint_name=sample["endpoint"], deployment_name="mlflow",
                      model_id=registered["asset_id"], traffic_percent=0, timeout_seconds=900,
                      options={"data_collector": {"collections": {"model_inputs": on,
                                                                  "model_outputs": on}}})
    body = {"input_data": {"columns": ["x"], "index": [0, 1], "data": [[1.0], [2.0]]}}
    answer = json.loads(_invoke(ml_client, sample["endpoint"], "mlflow", body,
                                tmp_path_factory.mktemp("mlflow-request")))
    assert answer == pytest.approx([2.0, 5.0])
    prefix = f"modelDataCollector/{sample['endpoint']}/mlflow/"
    found = wait_for_collected(ml_client, prefix, 2)
    events = {e["type"]: e for lines in found.values() for e in lines}
    assert events["azureml.inference.model_inputs"]["data"] == [{"x": 1.0}, {"x": 2.0}]
    assert [list(row.values())[0] for row in events["azureml.inference.model_outputs"]["data"]] \
        == pytest.approx([2.0, 5.0])
    assert events["azureml.inference.model_inputs"]["correlationid"] == \
        events["azureml.inference.model_outputs"]["correlationid"]


def test_a_collection_without_a_data_asset_gets_the_one_azure_registers(
        ml_client: MLClient, sample: dict) -> None:
    # A PUT that is not azure-ai-ml's (no dataId: the SDK registers the asset itself first):
    # local mode registers <endpoint>-<deployment>-<collection>, version 1, as Azure does.
    endpoint = sample["endpoint"]
    deployment = ml_client.online_deployments.get("payload", endpoint)  # code and env ids
    deployment.name = "rawmdc"
    deployment.data_collector = DataCollector(
        collections={"model_inputs": DeploymentCollection(enabled="true")})
    rest = deployment._to_rest_object(location="westeurope")
    ml_client.online_deployments._online_deployment.begin_create_or_update(
        resource_group_name=workspace()["resource_group"],
        workspace_name=workspace()["workspace_name"], endpoint_name=endpoint,
        deployment_name="rawmdc", body=rest).result()
    asset = ml_client.data.get(f"{endpoint}-rawmdc-model_inputs", version="1")
    assert asset.type == "uri_folder"
    assert asset.path.endswith(f"modelDataCollector/{endpoint}/rawmdc/model_inputs")
    live = ml_client.online_deployments.get("rawmdc", endpoint)
    assert live.data_collector.collections["model_inputs"].data.endswith(
        f"/data/{endpoint}-rawmdc-model_inputs/versions/1")


def test_a_collection_mode_outside_the_rest_spec_is_400(ml_client: MLClient,
                                                       sample: dict) -> None:
    # DataCollectionMode is Enabled or Disabled (the SDK only ever sends those, so the body is
    # written by hand through its REST operation).
    endpoint = sample["endpoint"]
    deployment = ml_client.online_deployments.get("payload", endpoint)
    deployment.name = "modemdc"
    deployment.data_collector = DataCollector(
        collections={"model_inputs": DeploymentCollection(enabled="true")})
    rest = deployment._to_rest_object(location="westeurope")
    rest.properties.data_collector.collections["model_inputs"].data_collection_mode = "On"
    with pytest.raises(HttpResponseError) as refused:
        ml_client.online_deployments._online_deployment.begin_create_or_update(
            resource_group_name=workspace()["resource_group"],
            workspace_name=workspace()["workspace_name"], endpoint_name=endpoint,
            deployment_name="modemdc", body=rest).result()
    assert refused.value.status_code == 400
    assert "dataCollectionMode" in str(refused.value)


BAD_COLLECTORS = {
    "rolling-rate-weekly": {"rolling_rate": "Weekly"},
    "sampling-over-1": {"sampling_rate": 1.5},
}


@pytest.mark.parametrize("bad", BAD_COLLECTORS.values(), ids=BAD_COLLECTORS.keys())
def test_a_data_collector_outside_the_rest_spec_is_400(ml_client: MLClient, sample: dict,
                                                       bad: dict) -> None:
    deployment = ManagedOnlineDeployment(
        name="badmdc", endpoint_name=sample["endpoint"], model=sample["model_id"],
        code_configuration=CodeConfiguration(code=str(sample["code_dir"]),
                                             scoring_script="score.py"),
        environment=ml_client.online_deployments.get("payload", sample["endpoint"]).environment,
        instance_type="Standard_DS3_v2", instance_count=1,
        data_collector=DataCollector(
            collections={"model_inputs": DeploymentCollection(enabled="true")}, **bad),
    )
    with pytest.raises(HttpResponseError) as refused:
        ml_client.online_deployments.begin_create_or_update(deployment).result()
    assert refused.value.status_code == 400
    assert "badmdc" not in {d.name for d in ml_client.online_deployments.list(sample["endpoint"])}


# --- the sidecar on its own: layout per rolling rate, sampling, what is never captured --------
def _sidecar(tmp_path, rate: float = 1.0, rolling: str = "Hour") -> tuple[Sidecar, list]:
    written: list = []
    config = CollectorConfig(
        source="/subscriptions/s/.../onlineEndpoints/ep/deployments/blue",
        collections={"request": rate, "response": rate, "model_inputs": rate},
        destinations={name: ("azureml", f"modelDataCollector/ep/blue/{name}")
                      for name in ("request", "response", "model_inputs")},
        rolling_rate=rolling, capture_headers=["x-client-id", "Authorization"])
    return Sidecar(config, lambda *args: written.append(args), tmp_path), written


@pytest.mark.parametrize(("rolling", "window"), [
    ("Minute", "2026/03/04/05/06"), ("Hour", "2026/03/04/05"), ("Day", "2026/03/04"),
    ("Month", "2026/03"), ("Year", "2026")])
def test_the_rolling_rate_sets_the_folder_depth(tmp_path, rolling: str, window: str) -> None:
    sidecar, _ = _sidecar(tmp_path, rolling=rolling)
    epoch = 1772600766  # 2026-03-04T05:06:06Z
    container, blob = sidecar.blob_name("model_inputs", epoch)
    assert (container, blob) == (
        "azureml", f"modelDataCollector/ep/blue/model_inputs/{window}/{sidecar.instance_id}.jsonl")


def test_payload_sampling_and_headers_never_captured(tmp_path) -> None:
    never, written = _sidecar(tmp_path, rate=0.0)
    never.start()
    for _ in range(20):
        never.payload("request", b"{}", "application/json", "c", {})
    assert never.flush() and written == []
    never.stop()
    always, written = _sidecar(tmp_path / "b")
    always.start()
    always.payload("request", b'{"a": 1}', "application/json", "c-1",
                   {"Authorization": "Bearer s3cret", "X-Client-Id": "7"})
    assert always.flush()
    always.stop()
    event = json.loads(written[0][2])
    assert event["xclientid"] == "7" and "s3cret" not in written[0][2].decode()
    assert event["contentrange"] == "bytes 0-7/*" and event["data"] == {"a": 1}
