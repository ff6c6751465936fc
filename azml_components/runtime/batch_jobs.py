# A batch job's identity, so that a killed score_batch leaves nothing a retry cannot find. On a
# KFP cluster a cancel ends the pod within about a second and a node can die: the Azure job the
# task submitted keeps running, and a retry of the task would submit a second one. So a job of a
# KFP run is named from what it is: the run, the task, the endpoint, the deployment, the input and
# the job's own settings (azml-<run>-<key>-<attempt>, hashes). A retry lists the endpoint's jobs
# and takes the one a killed attempt left (still running, or completed) instead of submitting
# another; a job that failed or was canceled is not taken (the next attempt number is submitted).
# Azure keeps job names unique in the workspace, so even a submission whose answer was lost (the
# SDK sends the POST again) cannot make two. The recover_batch_jobs component cancels the jobs a
# killed run left running, as a pipeline's dsl.ExitHandler clean-up.
#
# What Azure offers (azure-ai-ml 1.35): batch_endpoints.invoke(job_name=...) names the job (the
# REST body's BatchJob.name) and params_override=[{"properties": {...}}] gives it properties
# (BatchJob.properties, dict[str, str], REST API v2020_09_01_dataplanepreview: "The asset
# property dictionary"); the SDK's BatchJobSchema has no tags field (a tags override is refused,
# "Unknown field."), so the run and task go in the properties. batch_endpoints.list_jobs lists
# an endpoint's jobs with their name and status (GET batchEndpoints/{name}/jobs).
from typing import Optional

from azml_components.runtime.azure_client import azml_ml_client
from azml_components.runtime.calls import azml_call, azml_enum_text, azml_wait
from azml_components.runtime.records import AzmlBatchJobOverrides
from azml_components.runtime.rollout_state import azml_kfp_value
from azml_components.runtime.validation import azml_check_online_name, azml_check_range


def azml_batch_job_run_prefix(run_id: str) -> str:
    # The start of the name of every job a KFP run submits (letters, digits and '-' only,
    # whatever the run id holds).
    import hashlib

    return "azml-" + hashlib.sha256(run_id.encode()).hexdigest()[:12] + "-"


def azml_batch_job_identity(
    pipeline_run_id: str, pipeline_task_name: str, endpoint_name: str, deployment_name: str,
    input_uri: str, kind: str, settings: Optional[AzmlBatchJobOverrides] = None,
) -> Optional[dict]:
    # The name prefix and properties of this task's job, or None without a KFP run id (then
    # nothing ties the job to a run, and every call submits one, as before). The key covers
    # everything a job's result depends on: the task, endpoint, deployment, input and its type,
    # and the job's own settings. The input is a URI: a local dataset is scored from where it
    # was uploaded, LocalUpload/<content hash>/ (azml_upload_once), so the same data under
    # another local path (a retry's fresh mount) is the same input. The settings are in the key
    # because they change the result (mini_batch_size groups the files per run() call,
    # error_threshold decides whether the job fails, the output file name and path where the
    # predictions land): a job found under this key was submitted with these same settings, so
    # taking it over returns what this call asked for.
    import hashlib
    import json

    run_id = azml_kfp_value("pipeline_run_id", pipeline_run_id, 128)
    task = azml_kfp_value("pipeline_task_name", pipeline_task_name, 256)
    if not run_id:
        return None
    inputs = hashlib.sha256(b"uri\0" + input_uri.encode()).hexdigest()
    own = list(settings or AzmlBatchJobOverrides())
    key = json.dumps([task, endpoint_name.lower(), deployment_name.lower(), kind, inputs, own])
    prefix = azml_batch_job_run_prefix(run_id) + hashlib.sha256(key.encode()).hexdigest()[:16]
    return {
        "prefix": prefix + "-",
        "properties": {
            "azml-kfp-run": run_id,
            "azml-kfp-task": task,
            "azml-batch-inputs": inputs,
        },
    }


def azml_batch_job_active(status: str) -> bool:
    # A job Azure is still working on (JobStatus, REST API spec): NotStarted, Starting,
    # Provisioning, Preparing, Queued, Running, Finalizing. CancelRequested is on its way to
    # Canceled; Failed, Canceled, NotResponding, Paused and Unknown will not complete by themselves.
    return status in (
        "NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running", "Finalizing"
    )


def azml_endpoint_jobs(client, endpoint_name: str) -> list:
    # (name, status) of every job of the batch endpoint; none when the endpoint is gone.
    from azure.core.exceptions import ResourceNotFoundError

    try:
        jobs = azml_call(
            f"listing the jobs of batch endpoint {endpoint_name!r}",
            lambda: list(client.batch_endpoints.list_jobs(endpoint_name)),
        )
    except RuntimeError as error:
        if isinstance(error.__cause__, ResourceNotFoundError):
            return []
        raise
    return [(str(job.name or ""), azml_enum_text(job.status or "")) for job in jobs]


def azml_find_batch_job(client, endpoint_name: str, prefix: str) -> tuple:
    # (the job to take, or "", the attempt number a new job gets). A completed job is taken
    # first, else a running one; a failed or canceled one never.
    attempts = []
    for name, status in azml_endpoint_jobs(client, endpoint_name):
        suffix = name[len(prefix):] if name.lower().startswith(prefix.lower()) else ""
        if suffix.isdigit():
            attempts.append((status == "Completed", azml_batch_job_active(status), int(suffix),
                             name))
    taken = max((a for a in attempts if a[0] or a[1]), default=None)
    return (taken[3] if taken else "", max((a[2] for a in attempts), default=0) + 1)


def azml_cancel_job(client, kind: str, name: str, status: str, run_id: str,
                    timeout_seconds: int) -> None:
    # Cancel one job a KFP run left active (a batch or a command job) and say so.
    azml_wait(f"cancelling {kind} job {name!r}",
              lambda: client.jobs.begin_cancel(name).result(), timeout_seconds)
    print(f"cancelled {kind} job {name} ({status}) of run {run_id}")


def azml_cancel_run_batch_jobs(client, endpoint_name: str, run_id: str,
                               timeout_seconds: int) -> list:
    # Cancel the jobs of the run still running on the endpoint; returns their names.
    prefix = azml_batch_job_run_prefix(run_id)
    cancelled = []
    for name, status in azml_endpoint_jobs(client, endpoint_name):
        if name.lower().startswith(prefix) and azml_batch_job_active(status):
            azml_cancel_job(client, "batch", name, status, run_id, timeout_seconds)
            cancelled.append(name)
    return cancelled


def azml_recover_batch_jobs(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    pipeline_run_id: str = "",
    timeout_seconds: int = 600,
    client=None,
) -> dict:
    # The recover_batch_jobs component: cancel the batch jobs this KFP run submitted to the
    # endpoint that are still running (a score_batch task whose pod was killed leaves its job
    # running). Other runs' jobs and ended jobs are left alone; without a run id, nothing is
    # known to be this run's.
    azml_check_online_name("endpoint_name", endpoint_name)
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    run_id = azml_kfp_value("pipeline_run_id", pipeline_run_id, 128)
    if client is None:  # else the run's one MLClient, made by the component
        client = azml_ml_client(subscription_id, resource_group, workspace_name)
    if not run_id:
        print("pipeline_run_id was not filled in by KFP; no batch job is known to be this run's")
        return {"cancelled": []}
    cancelled = azml_cancel_run_batch_jobs(client, endpoint_name, run_id, timeout_seconds)
    if not cancelled:
        print(f"No batch job of run {run_id} is running on {endpoint_name!r}; nothing to do")
    return {"cancelled": cancelled}
