"""deploy_model's and invoke_endpoint's runtime through the real SDK against the stand-in.

One endpoint is shared by the tests in order (blue, then a failing green, then a good green), as
a team's endpoint lives through releases; each test states the traffic it starts from. The
deployment options' own rules come first (no Azure needed).
"""

import inspect
import json
import os
import signal
import threading
import time

import numpy as np
import pytest
from azure.ai.ml import MLClient

from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.deployment_options import azml_deployment_options
from azml_components.runtime.invoke import azml_invoke_endpoint
from azml_components.runtime.register import azml_register_model
from tests.helpers import (
    data_payload,
    diabetes_rows,
    ml_client,
    workspace,
    write_custom_model,
)

pytestmark = pytest.mark.timeout(600)
ENDPOINT = "deploy-tests"
OPTIONS = set(inspect.signature(azml_deployment_options).parameters)


@pytest.fixture(scope="module")
def client(standin) -> MLClient:
    return ml_client()


@pytest.fixture(scope="module")
def models(standin, tmp_path_factory):
    """Two registered custom models (different alphas) and a broken scoring folder."""
    root = tmp_path_factory.mktemp("models")
    made = {}
    for name, alpha in (("blue", 0.5), ("green", 5.0)):
        model_dir, code_dir, model = write_custom_model(root / name, alpha=alpha)
        registered = azml_register_model(**workspace(), model_name=f"deploy-{name}",
                                         model_path=str(model_dir))
        made[name] = {"asset_id": registered["asset_id"], "code": str(code_dir), "model": model}
    _, broken_code, _ = write_custom_model(root / "broken", init_raises=True)
    made["broken_code"] = str(broken_code)
    return made


def _deploy(models, name, deployment, **overrides):
    # Overrides go to the deployment options or to deploy_model's own arguments, by name.
    options = {"code_path": models[name]["code"], "scoring_script": "score.py",
               "conda_file": "conda.yaml"}
    options.update({k: v for k, v in overrides.items() if k in OPTIONS})
    arguments = {**workspace(), "endpoint_name": ENDPOINT, "deployment_name": deployment,
                 "model_id": models[name]["asset_id"], "timeout_seconds": 300,
                 **{k: v for k, v in overrides.items() if k not in OPTIONS}}
    return azml_deploy_model(**arguments, options=options)


def _predict(deployment: str = "") -> list:
    result = azml_invoke_endpoint(**workspace(), endpoint_name=ENDPOINT,
                                  payload=data_payload(diabetes_rows()),
                                  deployment_name=deployment)
    assert result["problems"] == [], result
    return result["response"]


def test_first_deployment_creates_the_endpoint_and_serves_predictions(models, client):
    result = _deploy(models, "blue", "blue")
    assert result["created_endpoint"] is True
    assert result["traffic"] == {"blue": 100}
    assert result["scoring_uri"].startswith("https://127.0.0.1:")
    assert result["endpoint_id"].lower().endswith(f"/onlineendpoints/{ENDPOINT}")
    expected = models["blue"]["model"].predict(diabetes_rows())
    assert np.allclose(_predict(), expected)
    # Keys stay in Azure: nothing key-like is in what the component writes out.
    keys = client.online_endpoints.get_keys(ENDPOINT)
    assert keys.primary_key not in json.dumps(result)


def test_failed_new_deployment_is_removed_and_takes_no_traffic(models, client, standin):
    with pytest.raises(RuntimeError) as raised:
        _deploy(models, "green", "green", code_path=models["broken_code"], traffic_percent=100)
    message = str(raised.value)
    assert "init exploded" in message  # the scoring logs come with the error
    assert "Traffic was not changed." in message
    assert {d.name for d in client.online_deployments.list(ENDPOINT)} == {"blue"}
    assert client.online_endpoints.get(ENDPOINT).traffic == {"blue": 100}
    assert np.allclose(_predict(), models["blue"]["model"].predict(diabetes_rows()))


def test_canary_share_keeps_the_rest_on_blue_then_full_cutover(models, client):
    result = _deploy(models, "green", "green", traffic_percent=0)
    assert result["traffic"] == {"blue": 100, "green": 0}
    # A deployment without traffic can be tested directly.
    assert np.allclose(_predict("green"), models["green"]["model"].predict(diabetes_rows()))
    result = _deploy(models, "green", "green", traffic_percent=25)
    assert result["traffic"] == {"blue": 75, "green": 25}
    assert result["previous_traffic"] == {"blue": 100, "green": 0}
    result = _deploy(models, "green", "green", traffic_percent=100)
    assert result["traffic"] == {"blue": 0, "green": 100}
    assert np.allclose(_predict(), models["green"]["model"].predict(diabetes_rows()))


def test_mlflow_model_deploys_without_code(standin, tmp_path):
    import mlflow.sklearn

    from tests.helpers import train_ridge

    model = train_ridge(alpha=2.0)
    mlflow.sklearn.save_model(model, str(tmp_path / "mlmodel"), serialization_format="cloudpickle")
    registered = azml_register_model(**workspace(), model_name="deploy-mlflow",
                                     model_path=str(tmp_path / "mlmodel"),
                                     model_type="mlflow_model")
    result = azml_deploy_model(**workspace(), endpoint_name="deploy-mlflow",
                               deployment_name="nocode", model_id=registered["asset_id"],
                               timeout_seconds=300)
    assert result["studio_url"].startswith("https://ml.azure.com/endpoints/realtime/deploy-mlflow/")
    rows = diabetes_rows()
    payload = {"input_data": {"columns": [f"x{i}" for i in range(rows.shape[1])],
                              "index": list(range(len(rows))), "data": rows.tolist()}}
    answer = azml_invoke_endpoint(**workspace(), endpoint_name=result["endpoint_name"],
                                  payload=json.dumps(payload))
    assert answer["problems"] == [], answer
    assert np.allclose(answer["response"], model.predict(rows))


def test_smoke_test_reports_what_did_not_match(models):
    result = azml_invoke_endpoint(**workspace(), endpoint_name=ENDPOINT,
                                  payload=json.dumps({"data": [[0.0] * 10, [1.0] * 10]}),
                                  json_schema=json.dumps({"type": "array",
                                                          "items": {"type": "string"}}))
    assert result["status"] == 200
    assert any(p.startswith("json_schema: at 0:") for p in result["problems"]), result
    wrong_rows = azml_invoke_endpoint(**workspace(), endpoint_name=ENDPOINT,
                                      payload=json.dumps({"data": [[0.0] * 3]}))
    assert wrong_rows["status"] >= 400 and wrong_rows["problems"][0].startswith("status: ")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"endpoint_name": "ab"}, "^endpoint_name: 'ab' is not a valid name"),
        ({"deployment_name": "9lives"}, "^deployment_name: "),
        ({"instance_count": 0}, "^instance_count: 0 must be at least 1"),
        ({"traffic_percent": 101}, "^traffic_percent: 101 must be between 0 and 100"),
        ({"scoring_script": "missing.py"}, "^scoring_script: 'missing.py' is not in the code"),
        ({"model_id": "deploy-blue"}, "^model_id: "),
        ({"auth_mode": "aad"}, "^auth_mode: 'aad' is not one of"),
        ({"conda_file": "", "image": ""}, "^environment: model .* needs|give conda_file"),
    ],
)
def test_bad_input_fails_before_any_write(models, standin, overrides, message):
    standin.clear_requests()
    with pytest.raises(ValueError, match=message):
        _deploy(models, "blue", "blue-two", **overrides)
    # Getting a token is not a write to Azure; anything else under /subscriptions/ would be.
    writes = [r for r in standin.requests() if r["method"] in ("PUT", "POST", "PATCH", "DELETE")
              and r["path"].startswith("/subscriptions/")]
    assert writes == []


def test_sigterm_while_waiting_stops_and_leaves_traffic(models, client, standin):
    before = client.online_endpoints.get(ENDPOINT).traffic
    standin.lro_fault(path_regex=r"/deployments/sigterm", outcome="Slow", delay_seconds=10)
    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        with pytest.raises(InterruptedError, match="cancelled by SIGTERM"):
            _deploy(models, "blue", "sigterm", traffic_percent=100)
    finally:
        timer.cancel()
        standin.clear_faults()
        # The abandoned wait's thread polls the slow operation until it ends (in a component
        # the process exits instead): let it finish, so later tests' request logs stay theirs.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(
                t.name.startswith("azml-wait: ") for t in threading.enumerate()):
            time.sleep(0.2)
    assert client.online_endpoints.get(ENDPOINT).traffic == before


def test_code_folder_inside_the_model(standin, tmp_path):
    import shutil

    model_dir, code_dir, model = write_custom_model(tmp_path, alpha=1.5)
    shutil.copytree(code_dir, model_dir / "code")
    registered = azml_register_model(**workspace(), model_name="deploy-code-inside",
                                     model_path=str(model_dir))
    arguments = {**workspace(), "endpoint_name": "deploy-inside", "deployment_name": "blue",
                 "model_id": registered["asset_id"], "timeout_seconds": 300}
    options = {"scoring_script": "score.py", "conda_file": "conda.yaml"}
    standin.clear_requests()
    with pytest.raises(ValueError, match="code_in_model: 'nope' is not a folder inside model"):
        azml_deploy_model(**arguments, options={**options, "code_in_model": "nope"})
    with pytest.raises(ValueError, match="scoring_script: 'other.py' is not in the code folder"):
        azml_deploy_model(**arguments, options={**options, "scoring_script": "other.py",
                                                "code_in_model": "code"})
    writes = [r for r in standin.requests() if r["method"] in ("PUT", "DELETE")
              and r["path"].startswith("/subscriptions/")]
    assert writes == []
    result = azml_deploy_model(**arguments, options={**options, "code_in_model": "code"})
    answer = azml_invoke_endpoint(**workspace(), endpoint_name=result["endpoint_name"],
                                  payload=data_payload(diabetes_rows()))
    assert np.allclose(answer["response"], model.predict(diabetes_rows()))
