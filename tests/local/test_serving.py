"""The stand-in's scoring processes, driven directly (no control plane)."""

import json
from pathlib import Path

import joblib
import numpy as np
import psutil
import pytest
from azml_local.infra.paths import env_cache_dir, wheelhouse_dir
from azml_local.serving.manager import NotServing, ProvisionError, ServingManager
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

# The same scoring script and environment the component tests deploy.
from tests.helpers import CONDA_YAML, SCORE_PY

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def manager(tmp_path_factory):
    serving = ServingManager(tmp_path_factory.mktemp("serving"), env_cache_dir(), wheelhouse_dir())
    yield serving
    serving.stop_all()


@pytest.fixture(scope="module")
def ridge():
    data = load_diabetes()
    return Ridge(alpha=1.0).fit(data.data[:-10], data.target[:-10]), data.data[-3:]


def _custom(tmp_path: Path, model, script: str = SCORE_PY) -> tuple[Path, Path]:
    (tmp_path / "model" / "model").mkdir(parents=True)
    joblib.dump(model, tmp_path / "model" / "model" / "model.joblib")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text(script)
    return tmp_path / "model", tmp_path / "code"


def test_scoring_script_serves_the_models_predictions(manager, ridge, tmp_path):
    model, rows = ridge
    model_dir, code_dir = _custom(tmp_path, model)
    manager.start("e/blue", model_dir=model_dir, code_dir=code_dir, scoring_script="score.py",
                  conda_file=CONDA_YAML, env_vars={})
    status, headers, body = manager.score("e/blue", json.dumps({"data": rows.tolist()}).encode(),
                                          {"Content-Type": "application/json"})
    assert status == 200, body
    assert np.allclose(json.loads(body), model.predict(rows))
    # Same requirements again: the cached environment is reused, not rebuilt.
    builds = manager.builds
    manager.start("e/blue", model_dir=model_dir, code_dir=code_dir, scoring_script="score.py",
                  conda_file=CONDA_YAML, env_vars={})
    assert manager.builds == builds


def test_mlflow_model_is_served_without_code(manager, ridge, tmp_path):
    import mlflow.sklearn

    model, rows = ridge
    mlflow.sklearn.save_model(model, str(tmp_path / "m" / "model"),
                              serialization_format="cloudpickle")
    manager.start("e/mlflow", model_dir=tmp_path / "m", code_dir=None, scoring_script=None,
                  conda_file=None, env_vars={})
    request = {"input_data": {"columns": list(range(10)), "index": [0, 1, 2],
                              "data": rows.tolist()}}
    status, _, body = manager.score("e/mlflow", json.dumps(request).encode(),
                                    {"Content-Type": "application/json"})
    assert status == 200, body
    assert np.allclose(json.loads(body), model.predict(rows))
    status, _, body = manager.score("e/mlflow", b'{"rows": []}',
                                    {"Content-Type": "application/json"})
    assert status == 400 and b"input_data" in body


def test_failing_init_raises_with_the_traceback(manager, ridge, tmp_path):
    broken = SCORE_PY.replace("    global model\n", "    raise ValueError('no weights here')\n")
    model_dir, code_dir = _custom(tmp_path, ridge[0], broken)
    with pytest.raises(ProvisionError) as raised:
        manager.start("e/broken", model_dir=model_dir, code_dir=code_dir,
                      scoring_script="score.py", conda_file=CONDA_YAML, env_vars={})
    assert "ValueError: no weights here" in raised.value.logs
    assert not manager.running("e/broken")


def test_environment_that_cannot_be_built_fails_provisioning(manager, ridge, tmp_path):
    model_dir, code_dir = _custom(tmp_path, ridge[0])
    conda = CONDA_YAML + "    - no-such-package-for-azml==9.9\n"
    with pytest.raises(ProvisionError) as raised:
        manager.start("e/nobuild", model_dir=model_dir, code_dir=code_dir,
                      scoring_script="score.py", conda_file=conda, env_vars={})
    assert "no-such-package-for-azml" in raised.value.logs
    assert "Image build failed" in raised.value.logs


def test_stop_leaves_no_process_behind(manager, ridge, tmp_path):
    model_dir, code_dir = _custom(tmp_path, ridge[0])
    manager.start("e/stop", model_dir=model_dir, code_dir=code_dir, scoring_script="score.py",
                  conda_file=CONDA_YAML, env_vars={"EXTRA": "1"})
    master = psutil.Process(manager.pid("e/stop"))
    family = [master, *master.children(recursive=True)]
    assert len(family) >= 2  # gunicorn master and its worker
    manager.stop("e/stop")
    gone, alive = psutil.wait_procs(family, timeout=10)
    assert alive == []
    with pytest.raises(NotServing):  # the front door answers 502
        manager.score("e/stop", b"{}", {})
