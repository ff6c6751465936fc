from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import requests
from azml_local.fixture import start
from azure.ai.ml.constants import AssetTypes
from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint, Model

from tests.local.conftest import make_client

pytestmark = pytest.mark.timeout(600)  # a cold scoring environment build takes minutes


def _mlflow_model(tmp_path: Path) -> Path:
    import mlflow.sklearn
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])  # y = 2x + 1
    path = tmp_path / "mlflow_model"
    mlflow.sklearn.save_model(
        model, str(path), serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE
    )
    return path


def _score(scoring_uri: str, key: str, bundle: str, timeout: float = 180) -> requests.Response:
    # After a restart the deployment re-provisions in the background: 503 until it is up.
    body = {"input_data": {"columns": ["0"], "index": [0], "data": [[4.0]]}}
    deadline = time.monotonic() + timeout
    while True:
        response = requests.post(scoring_uri, json=body, verify=bundle, timeout=60,
                                 headers={"Authorization": f"Bearer {key}",
                                          "azureml-model-deployment": "only"})
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


def test_restart_keeps_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, standin: object
) -> None:
    # A second stand-in of its own (the session one keeps running); the SDK reads its
    # configuration from the environment, so point it there for this test only.
    state = tmp_path / "state"
    (tmp_path / "model.txt").write_text("weights")
    name = f"kept-{uuid.uuid4().hex[:6]}"
    with start(state) as first:
        for key, value in first.env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)
        client = make_client(first.env)
        client.models.create_or_update(Model(name=name, path=tmp_path / "model.txt", version="3"))
        mlflow_model = client.models.create_or_update(
            Model(name=f"{name}-mlflow", path=_mlflow_model(tmp_path),
                  type=AssetTypes.MLFLOW_MODEL)
        )
        client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name=name)).result()
        client.online_deployments.begin_create_or_update(
            ManagedOnlineDeployment(name="only", endpoint_name=name, model=mlflow_model,
                                    instance_type="Standard_DS3_v2", instance_count=1)
        ).result()
        keys = client.online_endpoints.get_keys(name)
        port = int(first.url.rsplit(":", 1)[1])

    # Same state dir and port: the old client (and its cached token) keeps working.
    with start(state, port=port) as second:
        for key, value in second.env.items():
            monkeypatch.setenv(key, value)
        assert second.env["AZ_CLIENT_SECRET"] == first.env["AZ_CLIENT_SECRET"]
        model = client.models.get(name, "3")
        assert model.version == "3"
        endpoint = client.online_endpoints.get(name)
        assert endpoint.provisioning_state == "Succeeded"
        assert client.online_endpoints.get_keys(name).primary_key == keys.primary_key
        # The blob behind the model is still in Azurite (its files persist in the state dir).
        downloaded = tmp_path / "download"
        client.models.download(name, "3", download_path=downloaded)
        assert next(downloaded.rglob("model.txt")).read_text() == "weights"
        # The deployment's scoring process was started again.
        assert client.online_deployments.get("only", name).provisioning_state == "Succeeded"
        response = _score(endpoint.scoring_uri, keys.primary_key,
                          second.env["REQUESTS_CA_BUNDLE"])
        assert response.status_code == 200, response.text
        assert response.json() == pytest.approx([9.0])
