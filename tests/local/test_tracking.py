"""MLflow tracking through the real clients (azml_local/tracking).

A separate process with Microsoft's azureml-mlflow plugin, MLflow and azure-ai-ml
(pins.MLFLOW_TRACKING_PACKAGES + pins.AZURE_PACKAGES in their own environment: the plugin caps
mlflow-skinny below the example's pin) connects as Microsoft's "Configure MLflow for Azure Machine
Learning" shows: `mlflow.set_tracking_uri(ml_client.workspaces.get(...).mlflow_tracking_uri)`,
where the SDK hands its credential to the plugin. Behind local mode's routes is MLflow's own
tracking server.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
from azml_local.fixture import LocalAzureML
from azml_local.infra.paths import env_cache_dir, wheelhouse_dir
from azml_local.serving.environments import EnvironmentCache, ScoringEnvironment
from azure.ai.ml import MLClient

from azml_components import pins

pytestmark = pytest.mark.timeout(900)  # a cold cache builds two environments

# A user outside Azure: the workspace's tracking URI through the SDK, with its credential
# (how-to-use-mlflow-configure-tracking). Never DefaultAzureCredential: see conftest.py.
CONNECT = """
import json, os, sys, tempfile
import mlflow
from azure.ai.ml import MLClient
from azure.identity import ClientSecretCredential
from mlflow.tracking import MlflowClient

credential = ClientSecretCredential(
    os.environ["AZ_TENANT_ID"], os.environ["AZ_CLIENT_ID"], os.environ["AZ_CLIENT_SECRET"],
    authority=os.environ["AZURE_AUTHORITY_HOST"], disable_instance_discovery=True)
ml_client = MLClient(credential, os.environ["AZ_SUBSCRIPTION_ID"],
                     os.environ["AZML_LOCAL_RESOURCE_GROUP"], os.environ["AZML_LOCAL_WORKSPACE"])
uri = ml_client.workspaces.get(os.environ["AZML_LOCAL_WORKSPACE"]).mlflow_tracking_uri
mlflow.set_tracking_uri(uri)
"""

# Logs a run the way Microsoft's "Track ML experiments and models with MLflow" does, then reads
# it back through the same route with a fresh client.
LOG_AND_READ = CONNECT + """
mlflow.set_experiment(os.environ["EXPERIMENT"])
with mlflow.start_run() as run:
    mlflow.log_param("alpha", "0.5")
    mlflow.log_metric("rmse", 1.25, step=0)
    mlflow.log_metric("rmse", 1.0, step=1)
    notes = os.path.join(tempfile.mkdtemp(), "notes.txt")
    with open(notes, "w") as handle:
        handle.write("hello from a run")
    mlflow.log_artifact(notes, artifact_path="reports")
    try:  # run artifacts are write-once on Azure
        mlflow.log_artifact(notes, artifact_path="reports")
        again = ""
    except Exception as error:
        again = str(error)
run_id = run.info.run_id
read = mlflow.get_run(run_id)
client = MlflowClient()
# At the root: below it MLflow 3 also searches the run's logged models, which Azure's endpoint
# does not serve (a 404, see azml_local/tracking/unsupported.py).
listed = [f.path for f in client.list_artifacts(run_id)]
local = client.download_artifacts(run_id, "reports/notes.txt", tempfile.mkdtemp())
history = [(m.step, m.value) for m in client.get_metric_history(run_id, "rmse")]
try:  # Azure's endpoint has no logged models (what mlflow.<flavor>.log_model calls)
    client.create_logged_model(read.info.experiment_id)
    no_model = ""
except mlflow.exceptions.MlflowException as error:
    no_model = str(error)
try:  # not in Azure's support matrix: refused
    mlflow.search_runs(experiment_names=[os.environ["EXPERIMENT"]], order_by=["metrics.rmse"])
    refused = ""
except mlflow.exceptions.MlflowException as error:
    refused = str(error)
print(json.dumps({"run_id": run_id, "status": read.info.status, "uri": uri,
                  "artifact_uri": read.info.artifact_uri, "params": read.data.params,
                  "metrics": read.data.metrics, "history": sorted(history), "listed": listed,
                  "content": open(local).read(), "refused": refused,
                  "again": again, "no_model": no_model}))
"""

# What a job's script does: resume the run the job names, log into it.
IN_A_JOB = """
import json, os
import mlflow

with mlflow.start_run() as run:
    mlflow.log_metric("accuracy", 0.75)
    mlflow.log_param("kind", "job")
print(json.dumps({"run_id": run.info.run_id, "tracking_uri": mlflow.get_tracking_uri()}))
"""


@pytest.fixture(scope="module")
def client_python() -> Path:
    environment = ScoringEnvironment(pip=[*pins.MLFLOW_TRACKING_PACKAGES, *pins.AZURE_PACKAGES])
    venv = EnvironmentCache(env_cache_dir(), wheelhouse_dir()).get(environment)
    return venv / "bin" / "python"


def _run(python: Path, script: str, env: dict[str, str]) -> dict:
    result = subprocess.run([str(python), "-c", script], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _user_env(standin: LocalAzureML, **extra: str) -> dict[str, str]:
    # A user's shell: local mode's variables (cloud metadata, CA bundle, proxy, credentials).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AZUREML_"))}
    env.update(standin.env)
    env.update(extra)
    return env


def test_azureml_mlflow_logs_and_reads_a_run_through_the_workspace_tracking_uri(
    standin: LocalAzureML, ml_client: MLClient, client_python: Path
):
    workspace = ml_client.workspaces.get(standin.workspace["workspace_name"])
    uri = workspace.mlflow_tracking_uri
    # Azure's shape: azureml://<host>/mlflow/v1.0/<workspace ARM id>
    assert uri == f"azureml://{standin.url.removeprefix('https://')}/mlflow/v1.0{workspace.id}"
    experiment = f"tracking-{uuid.uuid4().hex[:8]}"
    seen = _run(client_python, LOG_AND_READ, _user_env(standin, EXPERIMENT=experiment))
    # With the plugin installed the SDK answers the MLflow 2+/3 form (azureml-mlflow
    # get_mlflow_tracking_uri_v2).
    assert seen["uri"] == uri.replace("/mlflow/v1.0/", "/mlflow/v2.0/")
    assert seen["status"] == "FINISHED"
    assert seen["params"] == {"alpha": "0.5"}
    assert seen["metrics"] == {"rmse": 1.0}
    assert seen["history"] == [[0, 1.25], [1, 1.0]]
    assert seen["listed"] == ["reports"]
    assert seen["content"] == "hello from a run"
    assert "Resource Conflict: ArtifactId ExperimentRun/dcid." in seen["again"]
    assert "logged-models failed with error code 404" in seen["no_model"]
    assert "INVALID_PARAMETER_VALUE" in seen["refused"]
    assert "Ordering runs by metrics" in seen["refused"]
    host = standin.url.removeprefix("https://")
    assert seen["artifact_uri"].startswith(f"azureml://{host}/mlflow/v2.0{workspace.id}/"
                                           "experiments/")
    assert seen["artifact_uri"].endswith(f"/runs/{seen['run_id']}/artifacts")
    # The routes the plugin took: MLflow's REST API under Azure's prefix, artifacts through the
    # run history.
    paths = {r["path"] for r in standin.requests()}
    assert f"/mlflow/v2.0{workspace.id}/api/2.0/mlflow/runs/create" in paths
    assert any(p.startswith("/history/v1.0/") and p.endswith("/artifacts/batch/metadata")
               for p in paths)


def test_mlflow_routes_refuse_a_missing_or_bad_token(standin: LocalAzureML):
    ws = (f"/subscriptions/{standin.workspace['subscription_id']}/resourceGroups/"
          f"{standin.workspace['resource_group']}/providers/Microsoft.MachineLearningServices/"
          f"workspaces/{standin.workspace['workspace_name']}")
    session = requests.Session()
    session.trust_env = False
    session.verify = standin.env["REQUESTS_CA_BUNDLE"]
    targets = [f"/mlflow/v2.0{ws}/api/2.0/mlflow/experiments/search",
               f"/history/v1.0{ws}/experiments/e/runs/r/artifacts"]
    for path in targets:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            answer = session.get(standin.url + path, headers=headers, timeout=30)
            assert answer.status_code == 401, (path, answer.text)
            # The data plane's error shape (mlflow/mlflow#5846)
            body = answer.json()
            assert body["error"]["code"] == "UserError"
            assert body["error"]["innerError"]["code"] == "AuthorizationError"
            if not headers:
                assert body["error"]["message"] == "Bearer token not provided."


def test_a_job_environment_lets_its_process_log_into_the_run_it_names(
    standin: LocalAzureML, client_python: Path
):
    job = f"sincere_apple_{uuid.uuid4().hex[:8]}"
    job_env = standin.job_environment(job, "tracking-jobs")
    assert job_env["MLFLOW_RUN_ID"] == job_env["AZUREML_RUN_ID"] == job
    assert job_env["MLFLOW_EXPERIMENT_NAME"] == "tracking-jobs"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "AZUREML_", "AZURE_", "AZ_"))}
    env.update(job_env)  # no user credential: the run token alone
    seen = _run(client_python, IN_A_JOB, env)
    assert seen["run_id"] == job  # the job's run, resumed, not a new one
    # The same process with a forged token (a valid JWT whose signature is not the service's):
    # the plugin's call is refused (401; MLflow's client shows the body).
    head, claims, _ = job_env["MLFLOW_TRACKING_TOKEN"].split(".")
    forged = {**env, "MLFLOW_TRACKING_TOKEN": f"{head}.{claims}.AAAA"}
    refused = subprocess.run([str(client_python), "-c", IN_A_JOB], env=forged,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0
    assert "AuthorizationError" in refused.stderr, refused.stderr[-3000:]
    # Read back as a user would (`mlflow.get_run(job.name)`), through the same route.
    read = _run(client_python, CONNECT + (
        f"run = mlflow.get_run({job!r})\n"
        "print(json.dumps({'metrics': run.data.metrics, 'params': run.data.params,"
        " 'status': run.info.status}))\n"), _user_env(standin))
    assert read["metrics"] == {"accuracy": 0.75}
    assert read["params"] == {"kind": "job"}
    # The job owns its run's status: the script's end_run left it running (store.py).
    assert read["status"] == "RUNNING"
    # The job's end finishes it (the REST call a job's end makes; read back over the route).
    standin.finish_run(job, "Failed")
    workspace_id = job_env["MLFLOW_TRACKING_URI"].split("/mlflow/v1.0", 1)[1]
    answer = requests.get(f"{standin.url}/mlflow/v2.0{workspace_id}/api/2.0/mlflow/runs/get",
                          params={"run_id": job}, verify=standin.env["REQUESTS_CA_BUNDLE"],
                          headers={"Authorization": f"Bearer {job_env['MLFLOW_TRACKING_TOKEN']}"},
                          timeout=30, proxies={"https": ""})
    assert answer.json()["run"]["info"]["status"] == "FAILED", answer.text
    # The run token is its workspace's only.
    other = requests.get(f"{standin.url}/mlflow/v2.0/subscriptions/"
                         f"{standin.workspace['subscription_id']}/resourceGroups/"
                         f"{standin.workspace['resource_group']}/providers/"
                         "Microsoft.MachineLearningServices/workspaces/another-ws/api/2.0/mlflow/"
                         "experiments/search", headers={"Authorization": f"Bearer "
                                                        f"{job_env['MLFLOW_TRACKING_TOKEN']}"},
                         verify=standin.env["REQUESTS_CA_BUNDLE"], timeout=30,
                         proxies={"https": ""})
    assert other.status_code == 403, other.text
    # The run token is not an ARM token.
    token = job_env["MLFLOW_TRACKING_TOKEN"]
    answer = requests.get(f"{standin.url}/subscriptions/{standin.workspace['subscription_id']}"
                          f"/resourceGroups/{standin.workspace['resource_group']}/providers/"
                          "Microsoft.MachineLearningServices/workspaces/"
                          f"{standin.workspace['workspace_name']}?api-version=2024-04-01",
                          headers={"Authorization": f"Bearer {token}"},
                          verify=standin.env["REQUESTS_CA_BUNDLE"], timeout=30,
                          proxies={"https": ""})
    assert answer.status_code == 401


@pytest.mark.parametrize(("path", "body", "refused"), [
    ("2.0/mlflow/runs/search", {"order_by": ["metrics.rmse DESC"]}, "Ordering runs"),
    ("2.0/mlflow/runs/search", {"order_by": ["params.alpha"]}, "Ordering runs"),
    ("2.0/mlflow/runs/search", {"order_by": ["tags.team"]}, "Ordering runs"),
    ("2.0/mlflow/runs/search", {"order_by": ["attributes.start_time DESC"]}, ""),
    ("2.0/mlflow/runs/search", {"filter": "params.model LIKE 'ridge%'"}, "LIKE"),
    ("2.0/mlflow/runs/search", {"filter": "tags.owner ILIKE '%a%'"}, "LIKE"),
    ("2.0/mlflow/runs/search", {"filter": "params.note = 'I like it'"}, ""),
    ("2.0/mlflow/runs/search", {"filter": "tags.owner != 'x'"}, "!= on tags"),
    ("2.0/mlflow/runs/search", {"filter": "tags.`my tag` != 'x'"}, "!= on tags"),
    ("2.0/mlflow/runs/search", {"filter": "params.alpha != '1' and metrics.rmse < 2"}, ""),
    ("2.0/mlflow/experiments/update", {"experiment_id": "1", "new_name": "x"}, "Renaming"),
    ("2.0/mlflow/experiments/create", {"name": "x"}, ""),
])
def test_what_azure_ml_does_not_support_is_refused(path: str, body: dict, refused: str):
    from azml_local.tracking.unsupported import unsupported

    reason = unsupported(path, body)
    assert (refused in reason) if refused else reason == ""


@pytest.mark.parametrize(("path", "served"), [
    ("2.0/mlflow/logged-models", False),
    ("2.0/mlflow/logged-models/search", False),
    ("2.0/mlflow/logged-models/m-123/params", False),
    ("3.0/mlflow/traces", False),
    ("2.0/mlflow/runs/create", True),
    ("2.0/mlflow/logged-modelsx", True),  # whole segments only (MLflow then answers 404)
])
def test_routes_azure_ml_does_not_serve_are_404(path: str, served: bool):
    from azml_local.tracking.unsupported import not_served

    assert not_served(path) is not served
