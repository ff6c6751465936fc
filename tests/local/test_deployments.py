"""Deployments served by real scoring processes (azml_local/serving/manager.py), via the SDK.

One endpoint is shared by the module: `blue` (scoring script + joblib model, y = 2x + 1) and
`green` (MLflow model deployed without code, y = 3x - 1), so who answered shows in the numbers.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from azml_local.fixture import LocalAzureML
from azure.ai.ml import MLClient
from azure.ai.ml.constants import AssetTypes
from azure.ai.ml.entities import (
    CodeConfiguration,
    Environment,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
    OnlineRequestSettings,
    ProbeSettings,
)
from azure.core.exceptions import HttpResponseError
from sklearn.linear_model import LinearRegression

pytestmark = pytest.mark.timeout(900)  # the first run builds the scoring environment

X = [[1.0], [2.0], [5.0]]
SCORE_PY = '''
import json
import logging
import os

import joblib

model = None


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "model.joblib"))
    logging.info("model loaded")


def run(raw_data):
    data = json.loads(raw_data)["input_data"]["data"]
    return model.predict(data).tolist()
'''
FAILING_SCORE_PY = '''
def init():
    raise RuntimeError("init exploded on purpose")


def run(raw_data):
    return []
'''
CONDA = """name: scoring
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
      - azureml-inference-server-http==1.5.1
      - scikit-learn==1.9.1
      - joblib==1.6.0
"""
IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"


def _fit(slope: float, intercept: float) -> LinearRegression:
    xs = np.arange(20, dtype=float).reshape(-1, 1)
    return LinearRegression().fit(xs, slope * xs.ravel() + intercept)


@pytest.fixture(scope="module")
def setup(ml_client: MLClient, tmp_path_factory: pytest.TempPathFactory) -> dict:
    import joblib
    import mlflow.sklearn

    root = tmp_path_factory.mktemp("deployments")
    blue_model, green_model = _fit(2.0, 1.0), _fit(3.0, -1.0)
    (root / "model").mkdir()
    joblib.dump(blue_model, root / "model" / "model.joblib")
    # mlflow 3.17 defaults to the skops format, which needs the skops package everywhere;
    # cloudpickle, as the other tests' MLflow models, so they share one scoring environment
    # (the model's conda.yaml lists cloudpickle only then).
    mlflow.sklearn.save_model(
        green_model, str(root / "mlflow_model"),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
    )
    (root / "code").mkdir()
    (root / "code" / "score.py").write_text(SCORE_PY)
    (root / "bad_code").mkdir()
    (root / "bad_code" / "score.py").write_text(FAILING_SCORE_PY)
    (root / "conda.yaml").write_text(CONDA)
    request = root / "request.json"
    request.write_text(json.dumps({"input_data": {"columns": ["x"], "index": [0, 1, 2],
                                                  "data": X}}))

    suffix = uuid.uuid4().hex[:6]
    joblib_model = ml_client.models.create_or_update(Model(name=f"lin-{suffix}",
                                                           path=root / "model"))
    mlflow_model = ml_client.models.create_or_update(
        Model(name=f"mlflow-{suffix}", path=root / "mlflow_model", type=AssetTypes.MLFLOW_MODEL)
    )
    endpoint = ml_client.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name=f"ep-dep-{suffix}", auth_mode="key")
    ).result()
    environment = Environment(conda_file=str(root / "conda.yaml"), image=IMAGE)
    blue = ManagedOnlineDeployment(
        name="blue",
        endpoint_name=endpoint.name,
        model=joblib_model,
        code_configuration=CodeConfiguration(code=str(root / "code"), scoring_script="score.py"),
        environment=environment,
        instance_type="Standard_DS3_v2",
        instance_count=1,
    )
    green = ManagedOnlineDeployment(
        name="green",
        endpoint_name=endpoint.name,
        model=f"azureml:{mlflow_model.name}:{mlflow_model.version}",
        instance_type="Standard_DS3_v2",
        instance_count=1,
    )
    # Both provision at once (the control plane runs each LRO in its own thread).
    pollers = [ml_client.online_deployments.begin_create_or_update(d) for d in (blue, green)]
    for poller in pollers:
        assert poller.result().provisioning_state == "Succeeded"
    endpoint.traffic = {"blue": 100, "green": 0}
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    return {
        "endpoint": endpoint.name,
        "request": str(request),
        "blue": blue_model.predict(X).tolist(),
        "green": green_model.predict(X).tolist(),
        "root": root,
        "environment": environment,
        "joblib_model": joblib_model,
    }


def _predictions(text: str) -> list[float]:
    body = json.loads(text)
    return body if isinstance(body, list) else body["predictions"]


def _invoke(ml_client: MLClient, setup: dict, deployment: str | None = None) -> list[float]:
    text = ml_client.online_endpoints.invoke(
        setup["endpoint"], request_file=setup["request"], deployment_name=deployment
    )
    return _predictions(text)


def _set_traffic(ml_client: MLClient, setup: dict, traffic: dict, mirror: dict | None = None):
    endpoint = ml_client.online_endpoints.get(setup["endpoint"])
    endpoint.traffic = traffic
    endpoint.mirror_traffic = mirror or {}
    return ml_client.online_endpoints.begin_create_or_update(endpoint).result()


def test_invoke_both_deployments(ml_client: MLClient, setup: dict) -> None:
    assert _invoke(ml_client, setup) == pytest.approx(setup["blue"])
    # The deployment header reaches a 0%-traffic deployment.
    assert _invoke(ml_client, setup, "green") == pytest.approx(setup["green"])


def test_blue_green_switch(ml_client: MLClient, setup: dict) -> None:
    _set_traffic(ml_client, setup, {"blue": 0, "green": 100})
    try:
        for _ in range(3):
            assert _invoke(ml_client, setup) == pytest.approx(setup["green"])
    finally:
        _set_traffic(ml_client, setup, {"blue": 100, "green": 0})
    assert _invoke(ml_client, setup) == pytest.approx(setup["blue"])


def test_mirror_traffic_recorded(ml_client: MLClient, setup: dict, standin: LocalAzureML) -> None:
    before = len(standin.mirror_log(setup["endpoint"]))
    _set_traffic(ml_client, setup, {"blue": 100}, mirror={"green": 50})
    try:
        for _ in range(4):
            assert _invoke(ml_client, setup) == pytest.approx(setup["blue"])
    finally:
        _set_traffic(ml_client, setup, {"blue": 100, "green": 0})
    import time

    deadline = time.monotonic() + 20  # copies are sent in the background
    while len(standin.mirror_log(setup["endpoint"])) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    copies = standin.mirror_log(setup["endpoint"])[before:]
    assert len(copies) == 2
    assert {c["deployment"] for c in copies} == {"green"}
    assert _predictions(copies[0]["response"]) == pytest.approx(setup["green"])


# Azure's traffic rules as Microsoft states them (not as this package's runtime checks them):
# the REST API spec (Microsoft.MachineLearningServices stable 2024-04-01, mfe.json,
# OnlineEndpointProperties) says of `traffic` "Traffic values need to sum to 100." and of
# `mirrorTraffic` "Traffic values need to sum to utmost 50."; the "Safe rollout for online
# endpoints" article limits mirroring to one deployment that takes no live traffic.
SPEC_TRAFFIC_SUM = 100
SPEC_MIRROR_MAX = 50


def _refused(call) -> int:
    with pytest.raises(HttpResponseError) as info:
        call()
    return info.value.status_code


def test_live_traffic_must_sum_to_100(ml_client: MLClient, setup: dict) -> None:
    # (The SDK drops 0% entries before sending, so an unknown name needs a share.)
    for bad in ({"blue": SPEC_TRAFFIC_SUM - 1, "green": 0}, {"blue": 60, "green": 41},
                {"blue": 50, "nosuch": 50}):
        assert _refused(lambda t=bad: _set_traffic(ml_client, setup, t)) == 400
    try:
        assert _set_traffic(ml_client, setup, {"blue": 99, "green": 1}).traffic == {
            "blue": 99, "green": 1}
    finally:
        _set_traffic(ml_client, setup, {"blue": 100, "green": 0})


def test_mirror_is_at_most_50_to_one_deployment_without_live_traffic(
        ml_client: MLClient, setup: dict) -> None:
    live = {"blue": 100, "green": 0}
    try:
        mirrored = _set_traffic(ml_client, setup, live, mirror={"green": SPEC_MIRROR_MAX})
        assert mirrored.mirror_traffic == {"green": SPEC_MIRROR_MAX}  # "at most": 50 is fine
        assert _refused(lambda: _set_traffic(ml_client, setup, live,
                                             mirror={"green": SPEC_MIRROR_MAX + 1})) == 400
        # One deployment only, and never one with live traffic, even within 50 in sum.
        assert _refused(lambda: _set_traffic(ml_client, setup, live,
                                             mirror={"green": 10, "blue": 10})) == 400
        assert _refused(lambda: _set_traffic(ml_client, setup, {"blue": 50, "green": 50},
                                             mirror={"green": 10})) == 400
    finally:
        _set_traffic(ml_client, setup, live)


def test_a_deployment_with_traffic_is_not_deleted(ml_client: MLClient, setup: dict) -> None:
    assert _refused(lambda: ml_client.online_deployments.begin_delete(
        "blue", endpoint_name=setup["endpoint"]).result()) == 400
    assert {d.name for d in ml_client.online_deployments.list(setup["endpoint"])} >= {"blue"}


def test_scoring_fault(ml_client: MLClient, setup: dict, standin: LocalAzureML) -> None:
    # One 5xx is retried by azure-core (the scoring POST too) and succeeds.
    standin.clear_requests()
    standin.scoring_fault(setup["endpoint"], "blue", status=503, count=1)
    assert _invoke(ml_client, setup) == pytest.approx(setup["blue"])
    scored = [r["status"] for r in standin.requests() if r["path"].endswith("/score")]
    assert scored == [503, 200]
    # More 5xx than the SDK's retries (3) surface as an error.
    standin.scoring_fault(setup["endpoint"], "blue", status=500, count=4)
    with pytest.raises(HttpResponseError) as info:
        _invoke(ml_client, setup)
    assert info.value.status_code == 500
    assert _invoke(ml_client, setup) == pytest.approx(setup["blue"])


def test_scoring_requires_a_key(ml_client: MLClient, setup: dict, standin: LocalAzureML) -> None:
    import requests

    endpoint = ml_client.online_endpoints.get(setup["endpoint"])
    keys = ml_client.online_endpoints.get_keys(setup["endpoint"])
    body = Path(setup["request"]).read_bytes()
    session = requests.Session()
    session.verify = standin.env["REQUESTS_CA_BUNDLE"]
    for key, status in (("", 401), ("wrong", 401), (keys.secondary_key, 200)):
        response = session.post(endpoint.scoring_uri, data=body, timeout=30, headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        assert response.status_code == status
    assert response.headers["azureml-model-deployment"] == "blue"


def test_failing_init_ends_failed(ml_client: MLClient, setup: dict) -> None:
    bad = ManagedOnlineDeployment(
        name="broken",
        endpoint_name=setup["endpoint"],
        model=setup["joblib_model"],
        code_configuration=CodeConfiguration(
            code=str(setup["root"] / "bad_code"), scoring_script="score.py"
        ),
        environment=setup["environment"],
        instance_type="Standard_DS3_v2",
        instance_count=1,
    )
    with pytest.raises(HttpResponseError) as info:
        ml_client.online_deployments.begin_create_or_update(bad).result()
    # The operation's status body says Failed with the scoring container's reason.
    assert info.value.error.code == "ResourceNotReady", info.value
    assert ml_client.online_deployments.get("broken", setup["endpoint"]).provisioning_state == (
        "Failed"
    )
    logs = ml_client.online_deployments.get_logs("broken", setup["endpoint"], lines=200)
    assert "init exploded on purpose" in logs
    assert "Traceback" in logs
    # A deployment without traffic can be deleted (LRO 202).
    ml_client.online_deployments.begin_delete("broken", endpoint_name=setup["endpoint"]).result()
    names = {d.name for d in ml_client.online_deployments.list(setup["endpoint"])}
    assert names == {"blue", "green"}


def test_update_keeps_serving(ml_client: MLClient, setup: dict, standin: LocalAzureML) -> None:
    green = ml_client.online_deployments.get("green", setup["endpoint"])
    green.environment_variables = {"UPDATED": "1"}
    # The update stays "Updating" for 8 s, longer than the SDK's retries of a 503 last.
    standin.lro_fault(path_regex=f"/onlineEndpoints/{setup['endpoint']}/deployments/green$",
                      outcome="Slow", delay_seconds=8)
    poller = ml_client.online_deployments.begin_create_or_update(green)
    assert ml_client.online_deployments.get("green", setup["endpoint"]).provisioning_state \
        == "Updating"
    # The previous generation answers while the new one provisions (Azure updates in place,
    # rolling: https://learn.microsoft.com/azure/machine-learning/how-to-safely-rollout-online-endpoints).
    assert _invoke(ml_client, setup, "green") == pytest.approx(setup["green"])
    updated = poller.result()
    assert updated.provisioning_state == "Succeeded"
    assert updated.environment_variables == {"UPDATED": "1"}
    assert _invoke(ml_client, setup, "green") == pytest.approx(setup["green"])


# Azure's serving settings and their ranges (azml_local/resources/online_settings.py cites the
# REST API spec and Microsoft's deployment YAML reference): out of range is a 400 at the PUT.
BAD_SETTINGS = {
    "timeout-over-180s": {"request_settings": OnlineRequestSettings(request_timeout_ms=180001)},
    "no-concurrency": {"request_settings": OnlineRequestSettings(
        max_concurrent_requests_per_instance=-1)},
    "liveness-success-2": {"liveness_probe": ProbeSettings(success_threshold=2)},
    "readiness-failure-0": {"readiness_probe": ProbeSettings(failure_threshold=-3)},
    "period-under-1s": {"readiness_probe": ProbeSettings(period=0.5)},
    "egress-unknown": {"egress_public_network_access": "Sometimes"},
    "insights-not-bool": {"app_insights_enabled": "yes"},
    "tag-name-slash": {"tags": {"team/area": "ml"}},
}


@pytest.mark.parametrize("bad", BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys())
def test_serving_settings_out_of_azures_ranges_are_400(ml_client: MLClient, setup: dict,
                                                       bad: dict) -> None:
    deployment = ManagedOnlineDeployment(
        name="tuned", endpoint_name=setup["endpoint"], model=setup["joblib_model"],
        code_configuration=CodeConfiguration(code=str(setup["root"] / "code"),
                                             scoring_script="score.py"),
        environment=setup["environment"], instance_type="Standard_DS3_v2", instance_count=1,
        **bad,
    )
    assert _refused(lambda: ml_client.online_deployments.begin_create_or_update(
        deployment).result()) == 400
    assert "tuned" not in {d.name for d in ml_client.online_deployments.list(setup["endpoint"])}


def test_a_deployment_reads_back_azures_default_serving_settings(ml_client: MLClient,
                                                                 setup: dict) -> None:
    # blue was created with none: Azure answers with its defaults (5000 ms, 1 request per
    # instance; probes 10 s delay and period, 2 s timeout, thresholds 1 and 30).
    blue = ml_client.online_deployments.get("blue", setup["endpoint"])
    assert (blue.request_settings.request_timeout_ms,
            blue.request_settings.max_concurrent_requests_per_instance) == (5000, 1)
    for probe in (blue.liveness_probe, blue.readiness_probe):
        assert (probe.initial_delay, probe.period, probe.timeout, probe.success_threshold,
                probe.failure_threshold) == (10, 10, 2, 1, 30)
    assert blue.app_insights_enabled is False
    assert str(getattr(blue.egress_public_network_access, "value",
                       blue.egress_public_network_access)) == "Enabled"
