# run_command_job: submit an Azure ML command job once per KFP task, stream its log into the
# task's, and hand back where its outputs are.
#
# Crash safety, as score_batch's (runtime/batch_jobs.py): a cancelled run's pod ends within about
# a second on a KFP cluster and a node can die, so the Azure job the task submitted runs on. The
# job is named from what it is: the KFP run, the task and the job's content (the command, code
# content hash, environment, compute, inputs as their Azure URIs, outputs, settings):
# azml-<run>-<key>-<attempt>. A retry reads that name (jobs.get) and waits for the job a killed
# attempt left (still running, or completed) instead of submitting a second one; one that failed
# or was canceled is not taken (the next attempt number is submitted). Azure keeps job names
# unique in the workspace, so a submission whose answer was lost cannot make two. Each job
# carries the run and task in its tags (azml-kfp-run, azml-kfp-task), which the exit task
# (azml_recover_command_jobs) lists to cancel what a killed run left running.
#
# SIGTERM (the pipeline run was cancelled) and the deadline cancel the Azure job before the task
# fails (azml_wait, as rollouts and score_batch handle it).
from typing import Optional

from azml_components.runtime.azure_client import azml_ml_client, azml_subscription_id
from azml_components.runtime.batch_inputs import azml_upload_once
from azml_components.runtime.batch_jobs import (
    azml_batch_job_active,
    azml_batch_job_run_prefix,
    azml_cancel_job,
)
from azml_components.runtime.calls import (
    azml_best_effort,
    azml_call,
    azml_enum_text,
    azml_get_or_none,
    azml_wait,
)
from azml_components.runtime.command_job_options import azml_command_job_options
from azml_components.runtime.links import azml_studio_url
from azml_components.runtime.records import AzmlCommandJobOptions
from azml_components.runtime.register import azml_content_hash
from azml_components.runtime.rollout_state import azml_kfp_value
from azml_components.runtime.validation import azml_check_range


def azml_command_job_identity(
    pipeline_run_id: str, pipeline_task_name: str, options: AzmlCommandJobOptions,
    code_hash: str,
) -> Optional[dict]:
    # The name prefix and tags of this task's job, or None without a KFP run id (then every
    # call submits a job of a name Azure generates). The key covers what the job's result
    # depends on; the code is its content hash, the inputs their Azure URIs (a local dataset is
    # uploaded under its content hash), so a retry's fresh local paths are the same job.
    import hashlib
    import json

    run_id = azml_kfp_value("pipeline_run_id", pipeline_run_id, 128)
    task = azml_kfp_value("pipeline_task_name", pipeline_task_name, 256)
    if not run_id:
        return None
    content = options._replace(code_path=code_hash)
    key = json.dumps([task, list(content)], sort_keys=True, default=str)
    prefix = azml_batch_job_run_prefix(run_id) + hashlib.sha256(key.encode()).hexdigest()[:16]
    return {"prefix": prefix + "-", "tags": {"azml-kfp-run": run_id, "azml-kfp-task": task}}


def azml_find_command_job(client, prefix: str) -> tuple:
    # (the job to take, or "", the attempt number a new job gets): attempts 1, 2, ... are read
    # until one does not exist; a completed or active one is taken, a failed or canceled one is
    # skipped.
    attempt = 1
    while True:
        name = f"{prefix}{attempt}"
        job = azml_get_or_none(f"reading job {name!r}", client.jobs.get, name, client=client)
        if job is None:
            return "", attempt
        status = azml_enum_text(job.status or "")
        if status == "Completed" or azml_batch_job_active(status):
            return name, attempt
        attempt += 1


def azml_artifact_job_input(path: str, metadata: Optional[dict], kind: str = "") -> dict:
    # A KFP artifact as a job input: by reference when it already lives in Azure (a
    # run_command_job output carries azureml_path; a register_model output asset_id, the model
    # version), else its local file or folder (uploaded once by azml_job_inputs). Its type is
    # the artifact's, else `kind`, else mlflow_model for a folder with an MLmodel file,
    # uri_folder for a folder and uri_file for a file.
    import os

    metadata = metadata or {}
    if metadata.get("azureml_path"):
        return {"type": metadata.get("type") or kind or "uri_folder",
                "path": metadata["azureml_path"]}
    if metadata.get("asset_id"):
        return {"type": metadata.get("model_type") or kind or "custom_model",
                "path": metadata["asset_id"]}
    if not os.path.exists(path):
        raise ValueError(f"data / input_model: the artifact at {path!r} has no files and names "
                         "nothing in Azure (no azureml_path or asset_id in its metadata)")
    if not kind and os.path.isdir(path):
        mlflow = os.path.isfile(os.path.join(path, "MLmodel"))
        kind = "mlflow_model" if mlflow else "uri_folder"
    return {"type": kind or "uri_file", "path": path}


def azml_job_inputs(client, inputs: dict, timeout_seconds: int) -> dict:
    # The SDK Input (or literal) of each job input. A local file or folder (a KFP artifact) is
    # uploaded once per content (azml_upload_once); an azureml:// URI, a data or model asset
    # (azureml:NAME:VERSION) or an https URL is passed by reference: no download, no upload.
    import os

    from azure.ai.ml import Input

    resolved = {}
    for name, value in inputs.items():
        if not isinstance(value, dict):
            resolved[name] = value
            continue
        path = value["path"]
        if os.path.exists(path):
            path = azml_upload_once(client, path, timeout_seconds)
        resolved[name] = Input(type=value["type"], path=path)
    return resolved


def azml_command_job_entity(options: AzmlCommandJobOptions, name: str, tags: dict,
                            inputs: dict):
    # The SDK's command job for these options (azure.ai.ml.command).
    from azure.ai.ml import Output, command
    from azure.ai.ml.entities import Environment

    env = options.environment or {}
    environment = env.get("environment") or Environment(
        image=env["image"], conda_file=env["conda_file"])
    return command(
        name=name or None, command=options.command, code=options.code_path or None,
        environment=environment, compute=options.compute or None,
        instance_count=options.instance_count, instance_type=options.instance_type or None,
        distribution=options.distribution or None,
        environment_variables=options.environment_variables or {},
        experiment_name=options.experiment_name or None,
        display_name=options.display_name or None, description=options.description or None,
        tags=tags, inputs=inputs,
        outputs={key: Output(type=kind) for key, kind in (options.outputs or {}).items()},
        timeout=options.timeout_seconds,
    )


def azml_job_log_tail(client, name: str, lines: int = 30) -> str:
    # The last lines of the job's first user log (run history's logFiles, the files jobs.stream
    # reads: user_logs/std_log*.txt), or "" when there is none.
    import re

    import requests

    try:
        details = client.jobs._runs_operations.get_run_details(name)
        files = details.log_files or {}
        chosen = sorted(k for k in files if re.match(r"user_logs/std_log[\D]*[0]*\.txt", k))
        if not chosen:
            return ""
        response = requests.get(files[chosen[0]], timeout=60)
        response.raise_for_status()
    except Exception as error:  # noqa: BLE001 - the tail is a help, not the error
        return f"(the job's log could not be read: {error})"
    kept = [line for line in response.text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def azml_stream_job(client, name: str, timeout_seconds: int):
    # Stream the job's log into the task's (the SDK's jobs.stream prints to stdout) until it
    # ends, then return the job. SIGTERM and the deadline cancel the Azure job first.
    def stream():
        try:
            client.jobs.stream(name)
        except Exception:  # a failed job raises here (JobException): its error is read below
            job = client.jobs.get(name)
            if azml_enum_text(job.status or "") in ("Failed", "Canceled", "NotResponding"):
                return job
            raise
        return client.jobs.get(name)

    try:
        job = azml_wait(f"waiting for command job {name!r}", stream, timeout_seconds)
    except (InterruptedError, TimeoutError) as error:
        note = azml_best_effort(f"cancelling command job {name!r}",
                                lambda: client.jobs.begin_cancel(name).result(), 60)
        raise type(error)(f"{error}\n{note}") from error
    status = azml_enum_text(job.status or "")
    if status != "Completed":
        raise RuntimeError(azml_command_job_error(client, name, status))
    return job


def azml_command_job_error(client, name: str, status: str) -> str:
    # Azure's error for the job (run details' error, as jobs.stream reports it) and the tail of
    # its log.
    error = ""
    try:
        details = client.jobs._runs_operations.get_run_details(name)
        inner = getattr(details, "error", None)
        inner = getattr(inner, "error", inner)
        error = f"{getattr(inner, 'code', '')}: {getattr(inner, 'message', '')}" if inner else ""
    except Exception as failure:  # noqa: BLE001 - reported instead
        error = f"(the job's error could not be read: {failure})"
    tail = azml_job_log_tail(client, name)
    return (f"command job {name!r} ended {status}" + (f": {error}" if error else "")
            + (f"\nlast lines of its log:\n{tail}" if tail else ""))


def azml_job_metrics(client, workspace_name: str, name: str) -> dict:
    # The latest value of each MLflow metric the job logged into its run (a job is an MLflow
    # run of the same id on the workspace's tracking server: "Track ML experiments and models
    # with MLflow", learn.microsoft.com). Read with MLflow's REST API (runs/get) at the base
    # azureml-mlflow derives from the workspace's mlflow_tracking_uri (azureml://HOST/mlflow/v1.0
    # /WS becomes https://HOST/mlflow/v2.0/WS, its _store/azureml_reststore.py), with an Entra
    # token for the cloud's resource manager, the scope azureml-mlflow asks for. {} when the job
    # logged none; a run that cannot be read is reported, not an error (the job completed).
    import requests
    from azure.ai.ml._azure_environments import _get_base_url_from_metadata, _resource_to_scopes

    try:
        uri = client.workspaces.get(workspace_name).mlflow_tracking_uri or ""
        base = uri.replace("azureml://", "https://", 1).replace("/mlflow/v1.0/", "/mlflow/v2.0/",
                                                                1)
        scopes = _resource_to_scopes(_get_base_url_from_metadata())
        token = client._credential.get_token(*scopes).token
        response = requests.get(f"{base}/api/2.0/mlflow/runs/get", params={"run_id": name},
                                headers={"Authorization": f"Bearer {token}"}, timeout=60)
        if response.status_code == 404:
            return {}
        response.raise_for_status()
        logged = response.json()["run"]["data"].get("metrics") or []
    except Exception as error:  # noqa: BLE001 - the job's outcome stands
        print(f"The MLflow metrics of job {name} could not be read: {error}")
        return {}
    return {item["key"]: float(item["value"]) for item in logged}


def azml_job_outputs(job, options: AzmlCommandJobOptions) -> dict:
    # name -> {"azureml_path", "type"} of every job output: where the job wrote it (its uri, or
    # the default azureml/<job>/<output>/ on the workspace's default datastore, "Access data in
    # a job").
    outputs = {}
    for key, kind in (options.outputs or {}).items():
        given = getattr((job.outputs or {}).get(key), "path", None)
        path = given or f"azureml://datastores/workspaceblobstore/paths/azureml/{job.name}/{key}/"
        outputs[key] = {"azureml_path": path, "type": kind}
    return outputs


def azml_download_job_outputs(client, outputs: dict, download_to: dict, timeout_seconds: int):
    # Copy the named outputs' files into local folders (the KFP artifacts), when asked: off by
    # default, since a model can be large and the next step can read it where it is.
    from azure.ai.ml._artifacts._artifact_utilities import download_artifact_from_aml_uri

    for key, folder in (download_to or {}).items():
        uri = outputs[key]["azureml_path"]
        azml_wait(f"downloading output {key!r} ({uri})",
                  lambda uri=uri, folder=folder: download_artifact_from_aml_uri(
                      uri, folder, client.datastores), timeout_seconds)


def azml_submit_command_job(client, options: AzmlCommandJobOptions, name: str, tags: dict,
                            inputs: dict) -> str:
    # Submit the job; returns its name. Two attempts of one task at once (a retry while the
    # first still runs) choose the same name: the second PUT finds it taken (409, job names are
    # unique in the workspace) and takes the first one's job.
    entity = azml_command_job_entity(options, name, tags, inputs)
    try:
        submitted = azml_wait("submitting the command job",
                              lambda: client.jobs.create_or_update(entity),
                              options.timeout_seconds)
    except RuntimeError as error:
        if name and getattr(error.__cause__, "status_code", None) == 409:
            print(f"Command job {name} was submitted meanwhile by another attempt: taking it")
            return name
        raise
    print(f"Submitted command job {submitted.name}")
    return submitted.name


def azml_run_command_job(
    subscription_id: str, resource_group: str, workspace_name: str, command: str,
    pipeline_run_id: str = "", pipeline_task_name: str = "", model_output: str = "",
    download_to: str = "", client=None, **settings,
) -> dict:
    # The run_command_job component: check, find the job this task already submitted or submit
    # it, stream its log until it ends, and return its name, status and outputs.
    options = azml_command_job_options(command=command, **settings)
    # The output the component hands on as its Model artifact, and downloads into it if asked.
    if model_output and model_output not in (options.outputs or {}):
        raise ValueError(f"model_output: {model_output!r} is not one of the job's outputs "
                         f"({', '.join(options.outputs or {}) or 'none declared'})")
    if download_to and not model_output:
        raise ValueError("download_outputs: name the output to download in model_output")
    subscription = azml_subscription_id(subscription_id)
    if client is None:  # else the run's one MLClient, made by the component
        client = azml_ml_client(subscription, resource_group, workspace_name)
    inputs = azml_job_inputs(client, options.inputs or {}, options.timeout_seconds)
    keyed = options._replace(inputs={k: getattr(v, "path", v) for k, v in inputs.items()})
    code_hash = azml_content_hash(options.code_path) if options.code_path else ""
    identity = azml_command_job_identity(pipeline_run_id, pipeline_task_name, keyed, code_hash)
    name, taken = "", ""
    if identity is not None:
        taken, attempt = azml_find_command_job(client, identity["prefix"])
        name = taken or f"{identity['prefix']}{attempt}"
    tags = {**(options.tags or {}), **(identity or {}).get("tags", {})}
    if taken:
        print(f"Command job {taken} of this task exists already (a retry): waiting for it")
    else:
        name = azml_submit_command_job(client, options, name, tags, inputs)
    job = azml_stream_job(client, name, options.timeout_seconds)
    outputs = azml_job_outputs(job, options)
    if download_to:
        azml_download_job_outputs(client, outputs, {model_output: download_to},
                                  options.timeout_seconds)
    return {"name": name, "status": "Completed", "reused": bool(taken),
            "experiment_name": job.experiment_name, "outputs": outputs,
            "metrics": azml_job_metrics(client, workspace_name, name),
            "studio_url": azml_studio_url(subscription, resource_group, workspace_name, "job",
                                          name)}


def azml_job_output_model(metadata: Optional[dict], model_uri: str, model_type: str) -> dict:
    # register_model's model input when it is a run_command_job output (its metadata carries
    # azureml_path): the uri to register from (Azure's "register from an existing URI" path:
    # the files stay where the job wrote them), its asset type and the job; {} for any other
    # artifact. Its type wins over model_type's default; another explicit one is a conflict.
    metadata = metadata or {}
    if not metadata.get("azureml_path"):
        return {}
    if model_uri:
        raise ValueError("model_uri: give the model artifact or model_uri, not both")
    kind = str(metadata.get("type") or "custom_model")
    if kind not in ("mlflow_model", "custom_model"):
        raise ValueError(f"model: the job output is a {kind}, not a model (mlflow_model or "
                         "custom_model): declare the job's output with a model type")
    if model_type not in ("custom_model", kind):
        raise ValueError(f"model_type: {model_type!r} differs from the job output's type "
                         f"{kind!r}")
    return {"uri": metadata["azureml_path"], "model_type": kind,
            "job_name": str(metadata.get("job_name") or "")}


def azml_recover_command_jobs(
    subscription_id: str, resource_group: str, workspace_name: str, pipeline_run_id: str = "",
    timeout_seconds: int = 600, client=None,
) -> dict:
    # The exit task's clean-up: cancel the command jobs of this KFP run that are still active
    # (tag azml-kfp-run; Jobs_List's `tag` filter names the tag). Other runs' jobs and ended
    # jobs are left alone; without a run id nothing is known to be this run's.
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    run_id = azml_kfp_value("pipeline_run_id", pipeline_run_id, 128)
    if client is None:
        client = azml_ml_client(azml_subscription_id(subscription_id), resource_group,
                                workspace_name)
    if not run_id:
        print("pipeline_run_id was not filled in by KFP; no command job is known to be this run's")
        return {"cancelled": []}
    jobs = azml_call("listing the workspace's jobs of this run",
                     lambda: list(client.jobs.list(tag="azml-kfp-run")))
    cancelled = []
    for job in jobs:
        status = azml_enum_text(job.status or "")
        if (job.tags or {}).get("azml-kfp-run") == run_id and azml_batch_job_active(status):
            azml_cancel_job(client, "command", job.name, status, run_id, timeout_seconds)
            cancelled.append(job.name)
    return {"cancelled": cancelled}
