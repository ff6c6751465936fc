"""A job written the way Microsoft's azureml-examples write single-step command jobs
(tests/samples/single_step_job: its job.yml and src/ as they are) runs through run_command_job's
runtime on local mode; its metrics come back, its mlflow_model output registers where the job
wrote it (no download, no upload) and deploys as an MLflow no-code deployment that answers.

The job's environment is the training environment tests/pipelines/test_train_on_azure_ml.py
builds (pins.TRAINING_JOB_PACKAGES), and its model records the same requirements, so both
environments come from the shared cache.
"""

import json
import shutil
from pathlib import Path

import pytest
import yaml
from sklearn.datasets import load_diabetes

from azml_components import pins
from azml_components.runtime import azml_model_versions
from azml_components.runtime.command_jobs import azml_job_output_model, azml_run_command_job
from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.invoke import azml_invoke_endpoint
from azml_components.runtime.register import azml_register_model
from tests.helpers import ml_client, unique, workspace

pytestmark = pytest.mark.timeout(1200)  # a cold cache builds both environments

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "single_step_job"


def _job_folder(tmp_path: Path) -> Path:
    # The sample as `az ml job create -f job.yml` sees it, with the CSV its input names.
    folder = tmp_path / "job"
    shutil.copytree(SAMPLE, folder)
    (folder / "data").mkdir()
    load_diabetes(as_frame=True).frame.to_csv(folder / "data" / "diabetes.csv", index=False)
    return folder


def test_an_azureml_examples_style_job_trains_registers_and_deploys(standin, tmp_path,
                                                                    monkeypatch):
    folder = _job_folder(tmp_path)
    monkeypatch.chdir(folder)  # the YAML's relative paths are relative to its folder
    spec = yaml.safe_load((folder / "job.yml").read_text())
    conda_text = (folder / spec["environment"]["conda_file"]).read_text()
    assert yaml.safe_load(conda_text)["dependencies"][-1]["pip"] == pins.TRAINING_JOB_PACKAGES
    result = azml_run_command_job(
        **workspace(), command=spec["command"], inputs=spec["inputs"],
        outputs=spec["outputs"], code_path=spec["code"], conda_file=conda_text,
        image=spec["environment"]["image"],
        # The CLI's YAML schema strips azureml: from a compute (ArmStr); the SDK takes the name.
        compute=spec["compute"].removeprefix("azureml:"),
        experiment_name=spec["experiment_name"], display_name=spec["display_name"],
        description=spec["description"], model_output="model", timeout_seconds=900,
        pipeline_run_id=unique("run"), pipeline_task_name="train")
    assert result["status"] == "Completed"
    # The script's own metrics and autolog's training metrics, from the job's MLflow run.
    metrics = result["metrics"]
    assert {"test_r2", "test_rmse", "test_mae", "training_r2_score"} <= set(metrics), metrics
    assert 0 < metrics["test_r2"] < 1
    # register_model's runtime, as the component calls it for a run_command_job output.
    job_output = azml_job_output_model(
        {**result["outputs"]["model"], "job_name": result["name"]}, "", "custom_model")
    assert job_output["model_type"] == "mlflow_model"
    model_name = unique("sample")
    standin.clear_requests()
    registered = azml_register_model(
        **workspace(), model_name=model_name, model_uri=job_output["uri"],
        model_type=job_output["model_type"], lineage={"azureml_job_name": result["name"]})
    (version,) = azml_model_versions(ml_client(), model_name)
    assert version.path.rstrip("/").endswith(f"/paths/azureml/{result['name']}/model")
    assert version.tags["azureml_job_name"] == result["name"]
    assert not [r for r in standin.requests() if "LocalUpload" in r["path"]]
    deployed = azml_deploy_model(**workspace(), endpoint_name=unique("sample"),
                                 deployment_name="blue", model_id=registered["asset_id"],
                                 timeout_seconds=900)
    rows = load_diabetes(as_frame=True).frame.drop(columns=["target"]).tail(2)
    payload = {"input_data": {"columns": list(rows.columns), "index": [0, 1],
                              "data": rows.values.tolist()}}
    answer = azml_invoke_endpoint(**workspace(), endpoint_name=deployed["endpoint_name"],
                                  payload=json.dumps(payload))
    assert answer["status"] == 200 and answer["problems"] == [], answer
    assert len(answer["response"]) == 2
