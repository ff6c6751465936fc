"""The batch example pipeline end to end through kfp.local against the stand-in (compiled YAML,
as users upload it, under the KFP backend's artifact rules): an MLflow model over a table, with
the exit task that cancels a killed run's batch jobs; and both batch components on a custom
scoring script over a folder of CSV files, with a failing script failing its task with the
job's error.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from azml_local.resources.compute_clusters import COMPUTE_NAME
from kfp import dsl, local
from kfp.components import load_component_from_file

from azml_components import deploy_batch_model, score_batch
from azml_components.runtime.register import azml_register_model
from azml_components.testing.kfp_backend import kfp_backend_rules
from tests.helpers import diabetes_rows, ml_client, unique, workspace, write_custom_model

pytestmark = pytest.mark.timeout(900)
COMPILED = (Path(__file__).resolve().parents[2]
            / "compiled/pipelines/train_register_batch_score.yaml")
SCORE_PY = '''
import os

import joblib
import numpy as np

model = None


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "model.joblib"))


def run(mini_batch):
    rows = []
    for path in mini_batch:
        if os.path.basename(path).startswith("bad"):
            raise ValueError("this file cannot be scored")
        data = np.loadtxt(path, delimiter=",", ndmin=2)
        rows += [(os.path.basename(path), i, float(p)) for i, p in enumerate(model.predict(data))]
    return rows
'''


def test_example_batch_pipeline_scores_the_held_out_table(standin, tmp_path):
    ws = workspace()
    endpoint = unique("batch-example")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    with kfp_backend_rules() as rules:
        load_component_from_file(str(COMPILED))(
            resource_group=ws["resource_group"], workspace_name=ws["workspace_name"],
            endpoint_name=endpoint, model_name=f"{endpoint}-model")
    # It compared every row; then the exit task ran and found nothing of this run running.
    assert rules.checked[-2:] == ["check-batch-predictions", "recover-batch-jobs"]
    (output,) = tmp_path.rglob("recover-batch-jobs/executor_output.json")
    assert json.loads(output.read_text())["parameterValues"]["cancelled"] == []
    (predictions,) = [p for p in tmp_path.rglob("predictions/predictions.csv")]
    lines = predictions.read_text().splitlines()
    assert len(lines) == 89 and {line.rsplit(",", 1)[1] for line in lines} == {
        "held_out_0.csv", "held_out_1.csv"}
    client = ml_client()
    assert client.batch_endpoints.get(endpoint).defaults.deployment_name == "mlflow"
    # The job carries the run and the task it was submitted by (the task arguments KFP fills).
    (job,) = client.batch_endpoints.list_jobs(endpoint)
    properties = client.jobs.get(job.name).properties
    assert properties["azml-kfp-task"] == "score-batch"
    assert properties["azml-kfp-run"] and not properties["azml-kfp-run"].startswith("{{$")


def test_compiled_batch_pipeline_has_the_exit_task_for_its_own_run():
    # The exit task runs when the handler's tasks are done, whatever their state; it and
    # score_batch get the run id as a task argument (the KFP driver fills in only those), and
    # score_batch its task name.
    import yaml

    spec = next(yaml.safe_load_all(COMPILED.read_text()))
    root = spec["root"]["dag"]["tasks"]
    exit_task = root["recover-batch-jobs"]
    assert exit_task["triggerPolicy"] == {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}
    assert exit_task["dependentTasks"] == ["exit-handler-1"]
    handler = spec["components"][root["exit-handler-1"]["componentRef"]["name"]]
    score = handler["dag"]["tasks"]["score-batch"]["inputs"]["parameters"]
    run_id = {"runtimeValue": {"constant": "{{$.pipeline_job_uuid}}"}}
    assert exit_task["inputs"]["parameters"]["pipeline_run_id"] == run_id
    assert score["pipeline_run_id"] == run_id
    assert score["pipeline_task_name"] == {
        "runtimeValue": {"constant": "{{$.pipeline_task_name}}"}}


def _custom_pipeline(tmp_path: Path, files: list, **score_args) -> tuple:
    root = tmp_path / "imported"  # under the pipeline root, as the KFP launcher requires
    model_dir, code_dir, model = write_custom_model(tmp_path / "made")
    (code_dir / "score.py").write_text(SCORE_PY)
    code = shutil.copytree(code_dir, root / "code")
    data = root / "data"
    data.mkdir()
    rows = diabetes_rows(2 * len(files))
    for i, name in enumerate(files):
        np.savetxt(data / name, rows[2 * i:2 * i + 2], delimiter=",")
    registered = azml_register_model(**workspace(), model_name=unique("batch-custom"),
                                     model_path=str(model_dir))
    ws = workspace()
    endpoint = unique("batch-custom")

    @dsl.pipeline(name="custom-batch")
    def custom_batch():
        deployed = deploy_batch_model(
            model_id=registered["asset_id"], endpoint_name=endpoint, deployment_name="blue",
            compute=COMPUTE_NAME, mini_batch_size=2, error_threshold=0, max_retries=0,
            code=dsl.importer(artifact_uri=str(code), artifact_class=dsl.Artifact).output,
            conda_file="conda.yaml", **ws)
        score_batch(endpoint=deployed.outputs["endpoint"], dataset=dsl.importer(
            artifact_uri=str(data), artifact_class=dsl.Dataset).output, **ws, **score_args)

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    return custom_batch, model, endpoint


def test_custom_scoring_script_over_a_folder_of_csv_files(standin, tmp_path):
    names = ["a.csv", "b.csv", "c.csv"]
    pipeline, model, _ = _custom_pipeline(tmp_path, names)
    with kfp_backend_rules():
        pipeline()
    (predictions,) = [p for p in tmp_path.rglob("predictions/predictions.csv")]
    lines = predictions.read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == [n for n in names for _ in range(2)]
    assert np.allclose([float(line.split(",")[2]) for line in lines],
                       model.predict(diabetes_rows(6)))


def test_a_failing_scoring_script_fails_the_task_with_the_jobs_error(standin, tmp_path, capfd):
    pipeline, _, endpoint = _custom_pipeline(tmp_path, ["a.csv", "bad.csv"])
    with pytest.raises(RuntimeError, match=r"Inner task failed: .*'score-batch'"), \
            kfp_backend_rules():
        pipeline()
    out = capfd.readouterr()
    assert "ended Failed" in out.out + out.err
    assert "this file cannot be scored" in out.out + out.err


def test_a_jobs_own_error_threshold_replaces_the_deployments(standin, tmp_path):
    # The deployment fails a job on its first failed file (error_threshold 0) and scores two
    # files per run() call; this one job (score_batch's settings, as `az ml batch-endpoint
    # invoke --mini-batch-size 1 --set error_threshold=-1`) scores one file per call and
    # tolerates every failed file, so the task completes with the good file's predictions.
    pipeline, _, _ = _custom_pipeline(tmp_path, ["a.csv", "bad.csv"], error_threshold=-1,
                                      mini_batch_size=1)
    with kfp_backend_rules():
        pipeline()
    (predictions,) = [p for p in tmp_path.rglob("predictions/predictions.csv")]
    assert [line.split(",")[0] for line in predictions.read_text().splitlines()] == ["a.csv"] * 2
