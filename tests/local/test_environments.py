"""Deployments written the way Azure ML's documentation writes them, built from the package index.

Each case deploys through our deploy_model (its runtime, or the component under kfp.local) and
must predict what the model predicts when loaded here:
- a custom model whose conda file lists numpy, scikit-learn and scipy in the conda section with
  `=` pins, asks for another Python and pins another inference server in `pip:` (the shape of
  azureml-examples cli/endpoints/online/model-1/environment/conda.yaml);
- an MLflow model whose requirements.txt pins older versions than its conda.yaml;
- the curated scikit-learn environment (azureml-examples
  cli/endpoints/online/managed/sample/blue-deployment-with-curated-env.yml), in both id forms.
Then what fails on Azure fails here: images, unknown registry environments, an environment
without the inference server, and (offline mode) a package the wheelhouse does not hold.
"""

import base64
import hashlib
import json
import os
import sys
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from azml_local.infra.paths import cache_dir, env_cache_dir
from azml_local.serving import installer
from azml_local.serving.environments import (
    SERVER,
    EnvironmentCache,
    ProvisionError,
    ScoringEnvironment,
)
from azml_local.serving.manager import ServingManager
from kfp import dsl, local

from azml_components import deploy_model
from azml_components.runtime import (
    azml_deploy_model,
    azml_deployment_options,
    azml_invoke_endpoint,
    azml_register_model,
)
from tests.helpers import diabetes_rows, ml_client, train_ridge, unique, workspace

pytestmark = pytest.mark.timeout(900)  # a cold run builds environments from the index
OTHER_PYTHON = "3.12" if sys.version_info[:2] != (3, 12) else "3.11"

# A scoring script as Azure's samples write one (model-1/onlinescoring/score.py): the model
# registered from the folder `model` is at AZUREML_MODEL_DIR/model/...; it logs what it runs on.
SCORE_PY = '''\
import json
import logging
import os
from importlib.metadata import version

import joblib
import numpy

model = None


def init():
    global model
    model_path = os.path.join(os.getenv("AZUREML_MODEL_DIR"), "model/sklearn_regression_model.pkl")
    model = joblib.load(model_path)
    print("AZUREML_MODEL_DIR=" + os.environ["AZUREML_MODEL_DIR"])
    for name in ("scikit-learn", "numpy", "scipy", "azureml-inference-server-http"):
        print(f"installed {name}=={version(name)}")
    logging.info("Init complete")


def run(raw_data):
    data = numpy.array(json.loads(raw_data)["data"])
    return model.predict(data).tolist()
'''
# Conda section with `=` pins (the versions this model was trained with), another Python, and a
# server pin of the user's own in `pip:`.
CONDA_SECTION = f"""\
name: model-env
channels:
  - conda-forge
dependencies:
  - python={OTHER_PYTHON}
  - numpy=2.4.6
  - pip=25.1.1
  - scikit-learn=1.9.1
  - scipy=1.17.1
  - pip:
    - azureml-inference-server-http==1.4.1
    - inference-schema[numpy-support]
    - joblib
"""
SKLEARN_CURATED = "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"


@pytest.fixture(scope="module")
def custom(standin, tmp_path_factory):
    """A Ridge model registered from the folder `model`, and a code folder with score.py."""
    root = tmp_path_factory.mktemp("custom")
    model = train_ridge(alpha=0.7)
    (root / "model").mkdir()
    joblib.dump(model, root / "model" / "sklearn_regression_model.pkl")
    (root / "onlinescoring").mkdir()
    (root / "onlinescoring" / "score.py").write_text(SCORE_PY)
    (root / "onlinescoring" / "conda.yaml").write_text(CONDA_SECTION)
    name = unique("env-ridge")
    registered = azml_register_model(**workspace(), model_name=name,
                                     model_path=str(root / "model"))
    return {"asset_id": registered["asset_id"], "code": str(root / "onlinescoring"), "name": name,
            "model": model, "version": registered["asset_id"].rsplit(":", 1)[-1]}


def _predicts(endpoint: str, model, deployment: str = "") -> None:
    rows = diabetes_rows()
    answer = azml_invoke_endpoint(**workspace(), endpoint_name=endpoint,
                                  payload=json.dumps({"data": rows.tolist()}),
                                  deployment_name=deployment)
    assert answer["problems"] == [], answer
    assert np.allclose(answer["response"], model.predict(rows))


def _logs(endpoint: str, deployment: str) -> str:
    return ml_client().online_deployments.get_logs(deployment, endpoint, lines=200)


def test_conda_section_packages_and_the_users_server_pin_are_installed(custom):
    endpoint = unique("env-conda")
    azml_deploy_model(**workspace(), endpoint_name=endpoint, deployment_name="blue",
                      model_id=custom["asset_id"], timeout_seconds=900,
                      options=azml_deployment_options(code_path=custom["code"],
                                                      conda_file="conda.yaml"))
    _predicts(endpoint, custom["model"])
    logs = _logs(endpoint, "blue")
    # The conda section (dropped before) and the user's server pin (overridden before).
    assert "installed scikit-learn==1.9.1" in logs and "installed scipy==1.17.1" in logs
    assert "installed azureml-inference-server-http==1.4.1" in logs
    # The model lies where Azure puts it: azureml-models/<name>/<version>/<registered folder>.
    assert f"/azureml-models/{custom['name']}/{custom['version']}\n" in logs
    # Said once: the file asks for another Python than the environment runs on.
    assert logs.count(f"asks for Python {OTHER_PYTHON}") == 1


def test_curated_environment_through_the_component_and_by_short_name(custom, tmp_path):
    ws = workspace()
    endpoint = unique("env-curated")

    @dsl.pipeline
    def deploy_with_curated():
        deploy_model(endpoint_name=endpoint, deployment_name="blue",
                     model_id=custom["asset_id"], environment=SKLEARN_CURATED,
                     code=dsl.importer(artifact_uri=custom["code"],
                                       artifact_class=dsl.Artifact).output,
                     timeout_seconds=900, **ws)

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    deploy_with_curated()
    _predicts(endpoint, custom["model"])
    logs = _logs(endpoint, "blue")
    # sklearn-1.5 documents scikit-learn~=1.5.0 and joblib~=1.2.0 (azureml-assets).
    assert "installed scikit-learn==1.5." in logs
    assert "curated environment sklearn-1.5" in logs
    # The short form the SDK hands to the service resolves to the same (cached) environment.
    azml_deploy_model(**ws, endpoint_name=endpoint, deployment_name="green",
                      model_id=custom["asset_id"], traffic_percent=0, timeout_seconds=900,
                      options=azml_deployment_options(
                          code_path=custom["code"],
                          environment="azureml:AzureML-sklearn-1.5@latest"))
    _predicts(endpoint, custom["model"], deployment="green")


def test_mlflow_model_builds_from_its_conda_yaml_not_requirements_txt(standin, tmp_path):
    import mlflow.sklearn

    model = train_ridge(alpha=1.3)
    folder = tmp_path / "mlflow-model"
    mlflow.sklearn.save_model(model, str(folder), serialization_format="cloudpickle")
    # As a model logged long ago and re-saved: requirements.txt lags behind conda.yaml.
    (folder / "requirements.txt").write_text("mlflow==2.9.2\ncloudpickle==2.0.0\n"
                                             "scikit-learn==1.2.2\nnumpy==1.23.5\n")
    endpoint = unique("env-mlflow")
    registered = azml_register_model(**workspace(), model_name=endpoint,
                                     model_path=str(folder), model_type="mlflow_model")
    azml_deploy_model(**workspace(), endpoint_name=endpoint, deployment_name="nocode",
                      model_id=registered["asset_id"], timeout_seconds=900)
    rows = diabetes_rows()
    payload = {"input_data": {"columns": list(range(rows.shape[1])),
                              "index": list(range(len(rows))), "data": rows.tolist()}}
    answer = azml_invoke_endpoint(**workspace(), endpoint_name=endpoint,
                                  payload=json.dumps(payload))
    assert answer["problems"] == [], answer
    assert np.allclose(answer["response"], model.predict(rows))


def test_image_only_and_unknown_registry_environments_fail_naming_why(custom):
    image = "mcr.microsoft.com/azureml/minimal-py312-inference:latest"
    cases = [
        ({"image": image}, RuntimeError, "the stand-in cannot run images"),
        ({"environment": "azureml://registries/azureml/environments/no-such-env/labels/latest"},
         RuntimeError, "Curated environment 'no-such-env'"),
        # A registry of the user's is read before any write (discovery finds no 'contoso').
        ({"environment": "azureml://registries/contoso/environments/scoring/versions/3"},
         ValueError, "environment: registry 'contoso' is not reachable"),
    ]
    for arguments, error, message in cases:
        with pytest.raises(error, match=message):
            azml_deploy_model(**workspace(), endpoint_name=unique("env-refused"),
                              deployment_name="blue",
                              model_id=custom["asset_id"], timeout_seconds=300,
                              options=azml_deployment_options(code_path=custom["code"],
                                                              **arguments))


@pytest.fixture(scope="module")
def manager(tmp_path_factory):
    serving = ServingManager(tmp_path_factory.mktemp("serving"), env_cache_dir(), None)
    yield serving
    serving.stop_all()


SUM_PY = '''\
import json


def init():
    pass


def run(raw_data):
    return [sum(row) for row in json.loads(raw_data)["data"]]
'''


def _code(tmp_path: Path, script: str = SUM_PY) -> tuple[Path, Path]:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.txt").write_text("none\n")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text(script)
    return tmp_path / "model", tmp_path / "code"


def _sums(serving: ServingManager, key: str) -> list:
    status, _, body = serving.score(key, json.dumps({"data": [[1, 2], [3, 4.5]]}).encode(),
                                    {"Content-Type": "application/json"})
    assert status == 200, body
    return json.loads(body)


def test_environment_without_the_inference_server_does_not_start(manager, tmp_path):
    model_dir, code_dir = _code(tmp_path)
    with pytest.raises(ProvisionError) as raised:
        manager.start("e/noserver", model_dir=model_dir, code_dir=code_dir,
                      scoring_script="score.py", env_vars={},
                      conda_file="dependencies:\n  - python=3.11\n  - pip:\n    - six==1.17.0\n")
    assert "A required package azureml-inference-server-http is missing" in raised.value.logs
    assert raised.value.code == "ResourceNotReady"


# --- offline mode: a wheelhouse and nothing else -------------------------------------------------
@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    # The server's wheels, downloaded once into the cache (the only step that uses the index).
    place = cache_dir() / "wheelhouse-tests"
    installer.fill_wheelhouse(place, [[SERVER]])
    return place


def test_offline_build_uses_the_wheelhouse_alone(wheelhouse, tmp_path):
    # Its own environment cache: a cold build, never one made from the index.
    offline = ServingManager(tmp_path / "serving", tmp_path / "envs", wheelhouse)
    try:
        model_dir, code_dir = _code(tmp_path)
        conda_file = f"dependencies:\n  - pip:\n    - {SERVER}\n"
        offline.start("e/offline", model_dir=model_dir, code_dir=code_dir,
                      scoring_script="score.py", conda_file=conda_file, env_vars={})
        assert _sums(offline, "e/offline") == [3, 7.5]
        record = json.loads(next((tmp_path / "envs").glob("*/environment.json")).read_text())
        assert record["source"] == str(wheelhouse)
        # A package the index has but the wheelhouse does not: the installer's own error.
        with pytest.raises(ProvisionError) as raised:
            offline.start("e/missing", model_dir=model_dir, code_dir=code_dir,
                          scoring_script="score.py", env_vars={},
                          conda_file=conda_file + "    - tomli-w==1.2.0\n")
        logs = raised.value.logs
        assert raised.value.code == "ImageBuildFailure"
        assert "Image build failed" in logs and f"offline wheelhouse {wheelhouse}" in logs
        if installer.find_uv():
            assert "tomli-w was not found in the provided package locations" in logs
        else:
            assert "No matching distribution found for tomli-w==1.2.0" in logs
        assert offline.logs("e/missing").strip() == logs.strip()  # getLogs shows the build
    finally:
        offline.stop_all()


def _probe_wheel(folder: Path) -> None:
    # A wheel that exists nowhere but in `folder`: installing it proves where uv looked.
    files = {"azml_probe/__init__.py": b"VALUE = 42\n",
             "azml_probe-0.1.dist-info/METADATA":
                 b"Metadata-Version: 2.1\nName: azml-probe\nVersion: 0.1\n",
             "azml_probe-0.1.dist-info/WHEEL":
                 b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                 b"Tag: py3-none-any\n"}
    def digest(data: bytes) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = [f"{name},sha256={digest(data)},{len(data)}" for name, data in files.items()]
    record.append("azml_probe-0.1.dist-info/RECORD,,")
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "azml_probe-0.1-py3-none-any.whl", "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr("azml_probe-0.1.dist-info/RECORD", "\n".join(record) + "\n")


def test_builds_follow_pips_index_settings(wheelhouse, tmp_path, monkeypatch):
    # pip configured for no index and two find-links folders; a default (online) build must go
    # exactly there, whichever installer runs it.
    _probe_wheel(tmp_path / "probe")
    for name in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(name)  # PIP_* variables would override the file
    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "pip.conf"))
    (tmp_path / "pip.conf").write_text(
        f"[global]\nno-index = true\nfind-links = {wheelhouse} {tmp_path / 'probe'}\n")
    cache = EnvironmentCache(tmp_path / "envs", None)
    venv = cache.get(ScoringEnvironment(pip=[SERVER, "azml-probe==0.1"]))
    assert list(venv.glob("lib/python*/site-packages/azml_probe/__init__.py"))
