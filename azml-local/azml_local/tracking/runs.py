"""A job's MLflow run: created before the job's process starts, finished when the job ends.

Azure ML gives a job's process the variables MLflow and azureml-mlflow read to log into the
job's own run (the job is the run; `mlflow.start_run()` in the script resumes it):
- MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN, MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_ID /
  MLFLOW_EXPERIMENT_NAME: with all of them set, azureml-mlflow authenticates with the token
  instead of a user credential (_internal/service_context_loader.py `_mlflow_env_vars_set`,
  _internal/utils.py `get_service_context_from_tracking_url_mlflow_env_vars`);
- AZUREML_RUN_ID: the run whose status the job, not the script, owns (_store/tracking/store.py
  `update_run_info` skips it, so `mlflow.end_run()` in a job does not finish the run);
- AZUREML_RUN_TOKEN, AZUREML_ARM_SUBSCRIPTION, AZUREML_ARM_RESOURCEGROUP,
  AZUREML_ARM_WORKSPACE_NAME, AZUREML_ARM_PROJECT_NAME, AZUREML_EXPERIMENT_ID,
  AZUREML_SERVICE_ENDPOINT, AZUREML_DISCOVERY_SERVICE_ENDPOINT (_common/constants.py RunEnvVars,
  read by _common/_authentication/azureml_token_authentication.py).
Local mode adds what its own plumbing needs in the process: the cloud (AZUREML_CURRENT_CLOUD
and ARM_CLOUD_METADATA_URL, which azureml-mlflow's _common/_cloud/cloud.py reads; without them it
asks management.azure.com), the CA bundle, and the proxy that reaches Azurite by its account host.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from azml_local.infra.auth import CLOUD_NAME
from azml_local.infra.web import ApiError
from azml_local.resources.context import RESOURCE_GROUP, WORKSPACE, WS, Context
from azml_local.tracking.routes import tracking_uri
from azml_local.tracking.server import STORED_ROOT, TrackingError

# A script for the server's interpreter, not a module of this package (support/ has no
# __init__.py): it imports MLflow's SQL store, which local mode's own environment lacks.
_SEED = Path(__file__).resolve().parent / "support" / "seed_run.py"
# Job statuses that end a run, as MLflow RunStatus values.
_FINAL = {"Completed": "FINISHED", "Failed": "FAILED", "Canceled": "KILLED"}
# Variables of local mode's own environment a job's process also needs (see the docstring).
CLIENT_VARIABLES = ("ARM_CLOUD_METADATA_URL", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE",
                    "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy")


def ensure_run(ctx: Context, job_name: str, experiment_name: str,
               display_name: str = "") -> str:
    """Create the job's experiment (if new) and its run (id = job name); the experiment id."""
    server = ctx.tracking
    server.ensure_started()  # the server creates and migrates the store before anyone else
    result = subprocess.run(
        [str(server.python()), str(_SEED), server.db_uri, STORED_ROOT, experiment_name,
         job_name, display_name], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise TrackingError(f"could not create the MLflow run of job {job_name}:\n"
                            f"{result.stderr[-3000:]}")
    return str(json.loads(result.stdout.strip().splitlines()[-1])["experiment_id"])


def job_environment(ctx: Context, job_name: str, experiment_name: str,
                    display_name: str = "") -> dict[str, str]:
    """The MLflow variables of a job's process, its run created first (see the docstring).

    Args:
        ctx: Local mode's shared state (its tracking server and identity).
        job_name: The job's name: the MLflow run id, as on Azure.
        experiment_name: The job's experiment (created in MLflow if it is new).
        display_name: The run's name (the job's display name); the job name when empty.
    """
    experiment_id = ensure_run(ctx, job_name, experiment_name, display_name)
    workspace_id = WS.format(sub=ctx.identity.subscription_id, rg=RESOURCE_GROUP, ws=WORKSPACE)
    token = ctx.identity.issue_run_token(workspace_id, job_name)
    env = {name: value for name, value in ctx.client_env.items() if name in CLIENT_VARIABLES}
    env.update({
        "MLFLOW_TRACKING_URI": tracking_uri(ctx, workspace_id),
        "MLFLOW_TRACKING_TOKEN": token,
        "MLFLOW_RUN_ID": job_name,
        "MLFLOW_EXPERIMENT_ID": experiment_id,
        "MLFLOW_EXPERIMENT_NAME": experiment_name,
        "AZUREML_RUN_ID": job_name,
        "AZUREML_RUN_TOKEN": token,
        "AZUREML_ARM_SUBSCRIPTION": ctx.identity.subscription_id,
        "AZUREML_ARM_RESOURCEGROUP": RESOURCE_GROUP,
        "AZUREML_ARM_WORKSPACE_NAME": WORKSPACE,
        "AZUREML_ARM_PROJECT_NAME": experiment_name,
        "AZUREML_EXPERIMENT_ID": experiment_id,
        "AZUREML_SERVICE_ENDPOINT": ctx.base_url,
        "AZUREML_DISCOVERY_SERVICE_ENDPOINT": f"{ctx.base_url}/discovery",
        "AZUREML_CURRENT_CLOUD": CLOUD_NAME,
    })
    return env


def finish_run(ctx: Context, job_name: str, status: str) -> None:
    """End the job's run with the job's final status (Completed, Failed or Canceled)."""
    import time

    body = json.dumps({"run_id": job_name, "run_uuid": job_name, "status": _FINAL[status],
                       "end_time": int(time.time() * 1000)}).encode()
    code, _, data = ctx.tracking.forward("POST", "/api/2.0/mlflow/runs/update", body,
                                         {"Content-Type": "application/json"})
    if code != 200:
        raise ApiError(500, "InternalServerError", f"MLflow refused to end run {job_name}: "
                       f"{data[:500]!r}")
