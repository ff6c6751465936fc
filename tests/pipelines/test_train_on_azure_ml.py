"""train_on_azure_ml end to end through kfp.local against local mode: the diabetes model is
trained as an Azure ML command job, registered from the job's output (no download, no upload),
deployed and smoke-tested; under the KFP backend's artifact rules."""

import pytest

from azml_components.runtime import azml_job_metrics, azml_model_versions
from pipelines.run_local import run_azure_training_locally
from tests.helpers import ml_client, unique, workspace

pytestmark = pytest.mark.timeout(1200)  # a cold cache builds the training environment


def test_training_on_azure_ml_registers_the_job_output_and_deploys_it(standin, tmp_path):
    ws = workspace()
    model_name = unique("trained")
    standin.clear_requests()
    answer = run_azure_training_locally(
        tmp_path, task_log=tmp_path / "tasks.log", resource_group=ws["resource_group"],
        workspace_name=ws["workspace_name"], model_name=model_name,
        endpoint_name=unique("trained"))
    assert answer["status"] == 200 and answer["problems"] == []
    assert len(answer["response"]) == 2
    client = ml_client()
    (version,) = azml_model_versions(client, model_name)
    # Registered where the job wrote it: its output on the default datastore, no upload.
    assert "/paths/azureml/" in version.path and "/model" in version.path
    assert version.tags["azureml_job_name"].startswith("azml-")
    job = client.jobs.get(version.tags["azureml_job_name"])
    assert str(job.status).endswith("Completed") or job.status == "Completed"
    assert job.tags["kfp_run_id"] == version.tags["kfp_run_id"]
    # The job's mlflow.log_metric calls landed in its run and came back as the task's metrics.
    metrics = azml_job_metrics(client, ws["workspace_name"], job.name)
    assert set(metrics) == {"r2", "rmse", "mae"} and 0 < metrics["r2"] < 1
    (report,) = tmp_path.glob("train-on-azure-ml-*/**/run-command-job/report")
    assert "r2=" in report.read_text()
    uploads = [r for r in standin.requests() if "LocalUpload" in r["path"]
               and r["method"] == "PUT" and "/models/" in r["path"].lower()]
    assert uploads == []
