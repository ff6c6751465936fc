"""The example pipeline end to end through kfp.local against the stand-in (both formats).

One format runs from the Python pipeline function (as `nox -s demo` does), the other from
compiled/pipelines/train_register_deploy.yaml loaded back, which is what users upload; both
under the KFP backend's artifact rules (azml_components/testing/kfp_backend.py).
"""

import json
from pathlib import Path

import numpy as np
import pytest
from kfp import local
from kfp.components import load_component_from_file
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

from azml_components.runtime import azml_credential, azml_invoke_endpoint
from azml_components.testing.kfp_backend import kfp_backend_rules
from pipelines.run_local import run_pipeline_locally
from tests.helpers import unique, workspace

pytestmark = pytest.mark.timeout(900)
# The deploy and smoke-test tasks of each branch of the pipeline's dsl.If / dsl.Else.
TASKS = {"mlflow": ("deploy-model", "invoke-endpoint"),
         "custom": ("deploy-model-2", "invoke-endpoint-2")}
COMPILED = Path(__file__).resolve().parents[2] / "compiled/pipelines/train_register_deploy.yaml"


def _run(pipeline_root: Path, source: str, task_log: Path, **arguments) -> tuple[dict, list]:
    # Returns the smoke test's saved answer and the tasks the backend rules checked.
    with kfp_backend_rules() as rules:
        if source == "python":
            return run_pipeline_locally(pipeline_root, task_log=task_log, **arguments), rules
        local.init(runner=local.SubprocessRunner(use_venv=False),
                   pipeline_root=str(pipeline_root))
        load_component_from_file(str(COMPILED))(**arguments)
    answer = next(pipeline_root.glob("train-register-deploy-*/invoke-endpoint*/response"))
    return json.loads(answer.read_text()), rules


def _expected_predictions(rows: int = 5) -> tuple:
    # The same split and model as the training component's defaults.
    data = load_diabetes(as_frame=True)
    x_train, x_test, y_train, _ = train_test_split(data.data, data.target, test_size=0.2,
                                                   random_state=42)
    model = Ridge(alpha=0.1).fit(x_train, y_train)
    return x_test.head(rows), model.predict(x_test.head(rows))


@pytest.mark.parametrize(("model_format", "source", "compute"), [
    ("mlflow", "python", ""),
    ("custom", "compiled", ""),
    # On the workspace's attached Kubernetes compute (a Kubernetes online endpoint).
    ("custom", "compiled", "aks-cluster"),
])
def test_example_pipeline_deploys_a_model_that_predicts(standin, tmp_path, model_format, source,
                                                        compute, capfd):
    ws = workspace()
    endpoint = unique(f"pipeline-{model_format}")
    task_log = tmp_path / "logs" / "tasks.log"
    answer, rules = _run(
        tmp_path, source, task_log, resource_group=ws["resource_group"],
        workspace_name=ws["workspace_name"], model_format=model_format, endpoint_name=endpoint,
        model_name=f"diabetes-{model_format}", compute=compute,
    )
    # Every task ran under the KFP launcher's artifact rules, with nothing to report.
    assert rules.checked == ["train-diabetes-model", "register-model", *TASKS[model_format]]
    assert rules.violations == [] and rules.warnings == []
    rows, expected = _expected_predictions()
    assert answer["problems"] == [] and answer["status"] == 200
    assert np.allclose(answer["response"], expected)
    # The endpoint itself, asked afresh, gives the model's predictions.
    payload = ({"data": rows.values.tolist()} if model_format == "custom" else
               {"input_data": {"columns": list(rows.columns), "index": list(range(len(rows))),
                               "data": rows.values.tolist()}})
    fresh = azml_invoke_endpoint(**ws, endpoint_name=endpoint, payload=json.dumps(payload))
    assert np.allclose(fresh["response"], expected)
    # Lineage: the registered model records the pipeline run.
    from azure.ai.ml import MLClient

    client = MLClient(azml_credential(), ws["subscription_id"], ws["resource_group"],
                      ws["workspace_name"])
    # The endpoint is of the asked kind, and the deploy task's report says so.
    served = client.online_endpoints.get(endpoint)
    assert (getattr(served, "compute", None) or "").endswith(compute)
    assert bool(getattr(served, "compute", None)) == bool(compute)
    report = next(tmp_path.glob("train-register-deploy-*/deploy-model*/report")).read_text()
    kind = f"Kubernetes online endpoint on compute {compute}" if compute else (
        "managed online endpoint")
    assert f"- **kind**: {kind}\n" in report
    models = list(client.models.list(name=f"diabetes-{model_format}"))
    assert models and models[0].tags.get("kfp_source_uri", "").endswith("/model")
    assert models[0].tags.get("kfp_run_id")
    logs = capfd.readouterr()
    if source == "python":
        # What the demo prints: one line per task (name, status, seconds); the full task logs
        # (kfp.local's executor output) are in the task log file.
        summary = [line.split() for line in logs.out.splitlines() if line.startswith("  ")]
        assert [(task, status) for task, status, *_ in summary] == [
            ("train-diabetes-model", "SUCCESS"), ("register-model", "SUCCESS"),
            (TASKS[model_format][0], "SUCCESS"), (TASKS[model_format][1], "SUCCESS")]
        assert all(float(seconds) >= 0 and unit == "s" for *_, seconds, unit in summary)
        assert len(logs.out.splitlines()) == len(summary)
        task_logs = task_log.read_text()
        assert task_logs.count("Executing task") == 4 and "Registered azureml:" in task_logs
        assert "Request URL" not in task_logs
    # The client secret never shows in task logs or in any output the run wrote.
    secret = standin.env["AZ_CLIENT_SECRET"]
    assert secret not in logs.out and secret not in logs.err
    assert "Request URL" not in logs.out  # SDK request logging is kept out of task logs
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path
