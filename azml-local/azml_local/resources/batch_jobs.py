"""Batch jobs: the invocation call, jobs (get, list, cancel, run details) and real execution.

What Azure ML does, and where it is written down:
- Invoking: azure-ai-ml's `batch_endpoints.invoke` POSTs {"properties": {"InputData": ...}} to
  the endpoint's scoringUri with a Microsoft Entra token (ml.azure.com audience) and the
  `azureml-model-deployment` header when a deployment is named; without one the endpoint's
  default deployment runs ("Deploy models for scoring in batch endpoints"). The answer is the
  job (a BatchJobResource: id, name, properties.status).
- A batch job is a pipeline job with one child step "batchscoring" whose output "score" holds
  the predictions (azure-ai-ml 1.35 JobOperations.download: "Batch Jobs are pipeline jobs with
  only one child", tags azureml.batchrun=true); ml_client.jobs.get/begin_cancel/stream work on
  it as on any job (ARM jobs/{id}, jobs/{id}/cancel, run history runs/{id}/details).
- Outputs land on the workspace's default datastore under azureml/<job>/score/ (the SDK's
  fallback search path for a job's named output, JobOperations._get_named_output_uri).
- The invocation may name the job (`name`, azure-ai-ml's `job_name`) and give it a property
  dictionary (BatchJob `properties`, dict[str, str], "The asset property dictionary": REST API
  v2020_09_01_dataplanepreview, as azure-ai-ml's generated model of it shows; azure-ai-ml 1.35
  sends it through invoke's `params_override` or `experiment_name`). The job carries those
  properties next to the batch run's own (an entry never replaces those), and the endpoint's
  job list shows them. Job names are unique in the workspace: a second job of a name is
  refused. (BatchJob `tags` is in the spec too, but azure-ai-ml cannot send it: its
  BatchJobSchema refuses the field; the stand-in does not keep them.)
- The input's type is what it references: uri_file a single file, uri_folder a folder
  ("Data concepts in Azure Machine Learning", concept-data); a job output other than uri_file
  is refused with a 400 ("Job output type must be 'uri_file'.", MicrosoftDocs/azure-docs#118447).
Execution: the deployment's environment is built by the same cache as online deployments
(environments.py), the model and code are laid out as for online deployments (provision.py),
and serving/support/batch_driver.py runs init()/run(mini_batch) in that environment.
The scoring processes get AZUREML_BI_OUTPUT_PATH, the job's output folder: files written there
are the `score` output, with either output action ("Customize outputs in batch deployments").
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

from azml_local.infra.lro import LroFailure, now_iso
from azml_local.infra.state import PRIVATE, public
from azml_local.infra.web import ApiError, Request, Response, Router, bad_request
from azml_local.resources import batch_endpoints, compute_clusters
from azml_local.resources.assets import DATASTORE_PATH, resolve_blob
from azml_local.resources.context import WS, Context, field_of

log = logging.getLogger("standin")
SUPPORT = Path(__file__).resolve().parent.parent / "serving" / "support"
HEADER = "azureml-model-deployment"
TERMINAL = ("Completed", "Failed", "Canceled")
# The processes of each running job (batch and command jobs): cancel and shutdown kill them.
_running: dict[str, list[subprocess.Popen[bytes]]] = {}
_lock = threading.Lock()


def track(rid: str, processes: list[subprocess.Popen[bytes]]) -> None:
    """Register a job's processes (a cancel kills their process groups)."""
    with _lock:
        _running[rid.lower()] = processes


def untrack(rid: str) -> None:
    with _lock:
        _running.pop(rid.lower(), None)


def job_id(workspace_id: str, name: str) -> str:
    return f"{workspace_id}/jobs/{name}"


def set_status(ctx: Context, rid: str, **changes: Any) -> dict[str, Any] | None:
    with ctx.store.lock:
        body = ctx.store.get(rid)
        if body is None:
            return None
        if body["properties"]["status"] in TERMINAL and "status" in changes:
            return body  # a finished job stays finished (a late cancel changes nothing)
        error = changes.pop("error", None)
        body["properties"].update(changes)
        if error is not None:
            body[PRIVATE]["error"] = error
        if changes.get("status") in TERMINAL:
            body[PRIVATE]["end"] = now_iso()
        ctx.store.put(body)
        return body


def _studio(ctx: Context, workspace_id: str, name: str) -> str:
    from urllib.parse import quote

    return f"https://ml.azure.com/runs/{quote(name)}?wsid={quote(workspace_id)}"


def job_view(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    """The job as ARM's jobs/{id} shows a batch job: a pipeline job, tagged as a batch run."""
    view = public(body)
    ws_id = body["id"].rsplit("/jobs/", 1)[0]
    view["properties"]["services"] = {"Studio": {"endpoint": _studio(ctx, ws_id, body["name"]),
                                                 "jobServiceType": "Studio"}}
    return view


def _batch_job_resource(body: dict[str, Any]) -> dict[str, Any]:
    # The data-plane answer of invoke and list (BatchJobResource).
    private = body[PRIVATE]
    return {"id": body["id"], "name": body["name"],
            "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs",
            "properties": {"name": body["name"], "status": body["properties"]["status"],
                           "inputData": private["input"], "outputDataset": None,
                           "deploymentName": private["deployment"],
                           "endpointName": private["endpoint"],
                           "properties": dict(body["properties"]["properties"]),
                           "interactionEndpoints": body["properties"]["services"]}}


def _job_properties(props: dict[str, Any]) -> dict[str, str]:
    # BatchJob.properties is dict[str, str] in the REST API spec: anything else does not
    # deserialize, a 400.
    value = props.get("properties")
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise bad_request("'properties.properties' must map strings to strings.")
    return value


def _bearer_ok(ctx: Context, request: Request) -> None:
    header = request.headers.get("Authorization", "")
    token = header[len("Bearer "):] if header.startswith("Bearer ") else ""
    claims = ctx.identity.verify(token) if token else None
    if claims is None or str(claims["aud"]).startswith("endpoint:"):
        raise ApiError(401, "Unauthorized", "Authentication failed: a Microsoft Entra token is "
                       "required.")


def _input_uri(body: dict[str, Any]) -> tuple[str, str]:
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise bad_request("'properties' is required.")
    data = props.get("InputData") or props.get("inputData")
    if not isinstance(data, dict) or len(data) != 1:
        raise bad_request("'properties.InputData' must hold exactly one input (UriFolder or "
                          "UriFile).")
    (_, entry), = data.items()
    uri = entry.get("uri") if isinstance(entry, dict) else None
    kind = (entry.get("jobInputType") or "") if isinstance(entry, dict) else ""
    if not isinstance(uri, str) or not uri:
        raise bad_request("The input has no 'uri'.")
    return uri, kind


def _output_uri(ctx: Context, ws_id: str, body: dict[str, Any]) -> str | None:
    """Where the job writes its append_row file when the invocation says (outputData), or None.

    Azure answers a batch job output that is not a file with a 400 validation error: "Job
    output type must be 'uri_file'." for OutputData.Values[i].JobOutputType (as Azure answered
    in MicrosoftDocs/azure-docs#118447 and Azure/azure-sdk-for-python#35242). A uri_file output
    is the predictions file itself ("Create jobs and input data for batch endpoints", Configure
    the output location: `outputs={"score": Output(type=AssetTypes.URI_FILE, path=...)}`; the
    SDK's conversion of the CLI's --output-path and --output-file-name, convert_v1_dataset_to_v2,
    makes the same uri_file output). The stand-in takes an azureml:// path on a datastore of
    the workspace, and one output (a model deployment has one, "score"); the deprecated
    OutputDataset (datastoreId + path) is refused: the SDK sends it only for an ARM datastore
    id, which the stand-in does not resolve (stricter, never silently ignored).
    """
    props = body["properties"]
    outputs = props.get("OutputData") or props.get("outputData") or {}
    if not isinstance(outputs, dict):
        raise bad_request("'properties.OutputData' must map output names to outputs.")
    for index, entry in enumerate(outputs.values()):
        kind = entry.get("jobOutputType") if isinstance(entry, dict) else None
        if str(kind or "").replace("_", "").lower() != "urifile":
            raise bad_request(
                "The Job request provided has the following validation errors. Please resolve "
                f"them and try again. OutputData.Values[{index}].JobOutputType: Job output type "
                f"must be 'uri_file'. (attempted: {kind!r})")
    if props.get("OutputDataset") or props.get("outputDataset"):
        raise bad_request("'properties.outputDataset' is deprecated; the stand-in takes the "
                          "job's output as one uri_file 'outputData' entry.")
    if not outputs:
        return None
    if len(outputs) > 1:
        raise bad_request("A model deployment's job has one output ('score'); "
                          f"'properties.outputData' names {len(outputs)}.")
    (uri,) = (entry.get("uri") for entry in outputs.values())
    match = DATASTORE_PATH.search(uri or "")
    if not isinstance(uri, str) or not uri.startswith("azureml://") or not match:
        raise bad_request(f"The job's output uri must be an azureml:// datastore path to a "
                          f"file; it is {uri!r}.")
    if ctx.store.get(f"{ws_id}/datastores/{match.group(1)}") is None:
        raise bad_request(f"The job's output names datastore '{match.group(1)}', which the "
                          "workspace does not have.")
    if not match.group(2).strip("/") or uri.endswith("/"):
        raise bad_request(f"The job's uri_file output must name a file; {uri!r} is a folder.")
    return uri


def _job_settings(ctx: Context, body: dict[str, Any], deployment: dict[str, Any]
                  ) -> dict[str, Any]:
    """The invocation's own settings, in the deployment's terms, checked as the deployment's.

    BatchJob (REST API v2020_09_01_dataplanepreview, as azure-ai-ml's generated model of it
    shows) carries miniBatchSize, compute (ComputeConfiguration: instanceCount), errorThreshold
    ("Range is [-1, int.MaxValue] ... -1 value indicates, ignore all failures"), retrySettings
    (maxRetries, timeout) and outputFileName; each replaces the deployment's for this job
    (`az ml batch-endpoint invoke --mini-batch-size --instance-count --output-file-name`,
    "Deploy models for scoring in batch endpoints": overwrite the deployment's settings per
    job). The rules are the deployment's (batch_endpoints.validate_deployment).
    """
    props = body["properties"]
    settings = {key: field_of(props, key, kind, required=False) for key, kind in (
        ("miniBatchSize", int), ("errorThreshold", int), ("outputFileName", str))}
    count = field_of(props, "compute.instanceCount", int, required=False)
    retry = field_of(props, "retrySettings", dict, required=False) or {}
    for path, value, low in (("miniBatchSize", settings["miniBatchSize"], 1),
                             ("errorThreshold", settings["errorThreshold"], -1),
                             ("compute.instanceCount", count, 1),
                             ("retrySettings.maxRetries",
                              field_of(retry, "maxRetries", int, required=False), 0)):
        if value is not None and value < low:
            raise bad_request(f"'{path}' must be at least {low}; it is {value}.")
    cluster = ctx.store.get(deployment["properties"]["compute"])
    nodes = cluster["properties"]["properties"]["scaleSettings"]["maxNodeCount"]
    if count is not None and count > nodes:
        raise bad_request(f"'compute.instanceCount' {count} is more than the compute "
                          f"'{cluster['name']}' can scale to ({nodes} nodes).")
    name = settings["outputFileName"]
    if name is not None and (not name.strip() or "/" in name or "\\" in name):
        raise bad_request(f"'outputFileName' must be a file name; it is '{name}'.")
    timeout = field_of(retry, "timeout", str, required=False)
    if timeout is not None and not batch_endpoints.duration_seconds(timeout):
        raise bad_request(f"'retrySettings.timeout' must be a positive ISO 8601 duration "
                          f"(e.g. PT30S); it is '{timeout}'.")
    settings["instanceCount"] = count
    settings["retrySettings"] = {k: v for k, v in retry.items() if v is not None} or None
    return {k: v for k, v in settings.items() if v is not None}


def add_routes(router: Router, ctx: Context) -> None:
    def invoke(request: Request) -> Response:
        name = request.params["endpoint"]
        matches = [b for b in ctx.store.all()
                   if b.get("type", "").endswith("/batchEndpoints")
                   and b["name"].lower() == name.lower()]
        if not matches:
            raise ApiError(404, "NotFound", f"Batch endpoint '{name}' could not be found.")
        endpoint = matches[0]
        _bearer_ok(ctx, request)
        chosen = request.headers.get(HEADER) or (endpoint["properties"].get("defaults") or {}
                                                 ).get("deploymentName")
        if not chosen:
            raise bad_request(f"Batch endpoint '{endpoint['name']}' has no default deployment; "
                              "name one with the azureml-model-deployment header.")
        deployment = batch_endpoints.find_deployment(ctx, endpoint, chosen)
        if deployment is None:
            raise ApiError(404, "NotFound", f"Deployment '{chosen}' could not be found in batch "
                           f"endpoint '{endpoint['name']}'.")
        if deployment["properties"]["provisioningState"] != "Succeeded":
            raise bad_request(f"Deployment '{chosen}' is not ready (provisioningState "
                              f"{deployment['properties']['provisioningState']}).")
        body = request.json_object()
        uri, kind = _input_uri(body)
        ws_id = endpoint["id"].rsplit("/batchEndpoints/", 1)[0]
        custom_output = _output_uri(ctx, ws_id, body)
        settings = _job_settings(ctx, body, deployment)
        user_properties = _job_properties(body["properties"])
        job_name = (body["properties"].get("name") or body["properties"].get("jobName")
                    or f"batchjob-{uuid.uuid4()}")
        rid = job_id(ws_id, job_name)
        output = f"azureml://datastores/workspaceblobstore/paths/azureml/{job_name}/score/"
        score = ({"jobOutputType": "uri_file", "uri": custom_output, "mode": "Upload"}
                 if custom_output else {"jobOutputType": "uri_folder", "uri": output,
                                        "mode": "ReadWriteMount"})
        record = {
            "id": rid, "name": job_name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "systemData": {"createdAt": now_iso(), "createdBy": "standin-service-principal",
                           "createdByType": "Application"},
            "properties": {
                "jobType": "Pipeline", "status": "NotStarted",
                "displayName": job_name, "experimentName": endpoint["name"],
                "computeId": deployment["properties"]["compute"],
                "description": None, "isArchived": False,
                "tags": {"azureml.batchrun": "true", "azureml.jobtype": "azureml.batchjob",
                         "azureml.endpointName": endpoint["name"],
                         "azureml.deploymentName": deployment["name"]},
                "properties": {**user_properties, "azureml.batchrun": "true"},
                "inputs": {}, "jobs": {}, "settings": {},
                "outputs": {"score": score},
            },
            PRIVATE: {"endpoint": endpoint["name"], "deployment": deployment["name"],
                      "input": {"uri": uri, "jobInputType": kind}, "start": now_iso(),
                      "settings": settings, "output": custom_output,
                      "token": secrets.token_urlsafe(16), "error": None},
        }
        with ctx.store.lock:
            if ctx.store.get(rid) is not None:
                raise ApiError(409, "Conflict", f"A job named '{job_name}' already exists.")
            ctx.store.put(record)
        threading.Thread(target=_execute, args=(ctx, rid, deployment), name=f"job-{job_name}",
                         daemon=True).start()
        view = job_view(ctx, record)
        record["properties"]["services"] = view["properties"]["services"]
        return Response(200, _batch_job_resource(record))

    def get_job(request: Request) -> Response:
        ws = ctx.workspace(request)
        name = request.params["job"]
        body = ctx.store.get(job_id(ws["id"], name))
        if body is None:
            raise ApiError(404, "UserError", f"Job {name} not found.")
        return Response(200, job_view(ctx, body))

    def cancel(request: Request) -> Response:
        ws = ctx.workspace(request)
        name = request.params["job"]
        rid = job_id(ws["id"], name)
        body = ctx.store.get(rid)
        if body is None:
            raise ApiError(404, "UserError", f"Job {name} not found.")
        if body["properties"]["status"] not in TERMINAL:
            set_status(ctx, rid, status="CancelRequested")
        headers = ctx.ops.start(request, rid, lambda: cancel_job(ctx, rid), lambda _: None)
        return Response(202, None, headers)

    def list_endpoint_jobs(request: Request) -> Response:
        _bearer_ok(ctx, request)
        endpoint = batch_endpoints.endpoint_body(ctx, request)
        items = [b for b in ctx.store.all() if b.get("type", "").endswith("/jobs")
                 and b[PRIVATE].get("endpoint", "").lower() == endpoint["name"].lower()]
        return Response(200, {"value": [_batch_job_resource(job_view(ctx, b) | {PRIVATE: b[
            PRIVATE]}) for b in items]})

    def run_details(request: Request) -> Response:
        _bearer_ok(ctx, request)
        ws = ctx.workspace(request)
        name = request.params["run"]
        body = ctx.store.get(job_id(ws["id"], name))
        if body is None:
            raise ApiError(404, "NotFound", f"Run {name} not found.")
        private = body[PRIVATE]
        details = {
            "runId": name, "status": body["properties"]["status"],
            "startTimeUtc": private["start"], "endTimeUtc": private.get("end"),
            "target": private.get("target", compute_clusters.COMPUTE_NAME),
            "properties": body["properties"]["properties"],
            "logFiles": {key: f"{ctx.base_url}/_joblogs/{name}/{private['token']}/{index}"
                         for index, key in enumerate(log_names(body))},
            "warnings": [],
        }
        if private.get("error"):
            details["error"] = {"error": private["error"]}
        return Response(200, details)

    def job_log(request: Request) -> Response:
        # The log file's URL is a capability, like the SAS URLs Azure hands out.
        body = next((b for b in ctx.store.all() if b.get("type", "").endswith("/jobs")
                     and b["name"] == request.params["run"]), None)
        if body is None or body[PRIVATE]["token"] != request.params["token"]:
            raise ApiError(404, "BlobNotFound", "The specified blob does not exist.")
        names = log_names(body)
        index = int(request.params["index"]) if request.params["index"].isdigit() else -1
        if not 0 <= index < len(names):
            raise ApiError(404, "BlobNotFound", "The specified blob does not exist.")
        path = work_dir(ctx, body["name"]) / names[index].rsplit("/", 1)[-1]
        return Response(200, path.read_bytes() if path.exists() else b"",
                        {"Content-Type": "text/plain"})

    router.add("POST", "/batchEndpoints/{endpoint}/jobs", invoke)
    router.add("GET", WS + "/jobs/{job}", get_job)
    router.add("POST", WS + "/jobs/{job}/cancel", cancel)
    # azure-ai-ml lists them at the workspace's MFE base (discovery "api" + this prefix).
    router.add("GET", "/mferp/managementfrontend" + batch_endpoints.BEP + "/jobs",
               list_endpoint_jobs)
    router.add("GET", "/history/v1.0" + WS + "/runs/{run}/details", run_details)
    router.add("GET", "/_joblogs/{run}/{token}/{index}", job_log)


def log_names(body: dict[str, Any]) -> list[str]:
    """The job's log files as run history lists them (a batch job's one log; a command job's
    user_logs/std_log*.txt, command_jobs.py). Each is kept in the job's folder by its base name.
    """
    return list(body[PRIVATE].get("logs") or ["logs/azureml/job_log.txt"])


def work_dir(ctx: Context, name: str) -> Path:
    return ctx.state_dir / "jobs" / name


def append_log(ctx: Context, name: str, text: str) -> None:
    with open(work_dir(ctx, name) / "job_log.txt", "a") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")


def _execute(ctx: Context, rid: str, deployment: dict[str, Any]) -> None:
    body = ctx.store.get(rid)
    name = body["name"]
    work = work_dir(ctx, name)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        set_status(ctx, rid, status="Preparing")
        append_log(ctx, name, f"Batch job {name}: deployment {deployment['name']} of endpoint "
             f"{body[PRIVATE]['endpoint']}")
        config = _prepare(ctx, body, deployment, work)
        if ctx.store.get(rid)["properties"]["status"] != "Preparing":
            return  # cancelled while preparing
        set_status(ctx, rid, status="Running")
        _run(ctx, rid, config, work)
    except LroFailure as failure:
        append_log(ctx, name, f"{failure.code}: {failure.message}")
        set_status(ctx, rid, status="Failed",
                   error={"code": failure.code, "message": failure.message})
    except Exception as exc:  # a stand-in bug: the job fails with it, as a service would
        log.exception("batch job %s", name)
        set_status(ctx, rid, status="Failed", error={"code": "SystemError", "message": repr(exc)})


def _prepare(ctx: Context, job: dict[str, Any], deployment: dict[str, Any],
             work: Path) -> dict[str, Any]:
    from azml_local.serving import provision
    from azml_local.serving.environments import ProvisionError, for_mlflow_model, from_conda_file

    props = _with_job_settings(ctx, job, deployment["properties"])
    model = provision._asset(ctx, props["model"]["assetId"], "Model")
    model_dir = provision._model_dir(work, model)
    model_dir.mkdir(parents=True)
    provision._fetch_model(ctx, model, model_dir)
    env_vars = {k: str(v) for k, v in (props.get("environmentVariables") or {}).items()}
    code_config = props.get("codeConfiguration") or {}
    try:
        if code_config.get("codeId"):
            code = provision._asset(ctx, code_config["codeId"], "Code")
            container, path = resolve_blob(ctx, code["properties"]["codeUri"])
            code_dir, script = work / "code", code_config.get("scoringScript") or ""
            ctx.azurite.download(container, path, code_dir)
            if not (code_dir / script).is_file():
                raise LroFailure("UserError", f"Scoring script '{script}' is not in the code.")
            conda_file, environment = provision._environment(ctx, props["environmentId"])
            environment = environment or from_conda_file(conda_file)
        else:  # MLflow no code: the model's own environment and our MLflow batch script
            from azml_local.serving.environments import find_mlmodel

            environment = for_mlflow_model(model_dir)
            code_dir, script = SUPPORT, "mlflow_batch_score.py"
            env_vars["MLFLOW_MODEL_FOLDER"] = str(
                find_mlmodel(model_dir).parent.relative_to(model_dir))
        append_log(ctx, job["name"], "Building (or reusing) the deployment's environment")
        env_dir = provision.serving(ctx).environments.get(environment)
    except ProvisionError as exc:
        append_log(ctx, job["name"], exc.logs)
        raise LroFailure("ImageBuildFailure", "Image build failed for the deployment's "
                         "environment; see the job's log.\n" + exc.logs[-2000:]) from exc
    files = _fetch_input(ctx, job, work / "input")
    return {"env_dir": str(env_dir), "model_dir": str(model_dir), "env_vars": env_vars,
            "code_dir": str(code_dir), "script": script, "files": files,
            "mini_batch_size": props["miniBatchSize"],
            "error_threshold": props["errorThreshold"], "output_action": props["outputAction"],
            "output_file_name": props["outputFileName"],
            "output_blob": _output_blob(ctx, job),
            "max_retries": props["retrySettings"]["maxRetries"],
            "timeout_seconds": batch_endpoints.duration_seconds(props["retrySettings"]["timeout"]),
            "output_file": str(work / "output" / props["outputFileName"]),
            "result_file": str(work / "result.json")}


def _with_job_settings(ctx: Context, job: dict[str, Any], props: dict[str, Any]
                       ) -> dict[str, Any]:
    """The deployment's settings with the invocation's own in their place (_job_settings)."""
    settings = dict(job[PRIVATE].get("settings") or {})
    retry = settings.pop("retrySettings", None) or {}
    count = settings.pop("instanceCount", None)
    merged = {**props, **settings,
              "retrySettings": {**props["retrySettings"], **retry}}
    # One machine runs every job here: the instance count is kept and logged, not spread.
    instances = count or (props.get("resources") or {}).get("instanceCount") or 1
    append_log(ctx, job["name"], f"Settings: mini_batch_size {merged['miniBatchSize']}, "
         f"error_threshold {merged['errorThreshold']}, retry {merged['retrySettings']}, "
         f"output file {merged['outputFileName']}, instance_count {instances}")
    return merged


def _output_blob(ctx: Context, job: dict[str, Any]) -> list[str] | None:
    """(container, blob) of the invocation's uri_file output, or None (the default place)."""
    uri = job[PRIVATE].get("output")
    if not uri:
        return None
    match = DATASTORE_PATH.search(uri)
    ws_id = job["id"].rsplit("/jobs/", 1)[0]
    store = ctx.store.get(f"{ws_id}/datastores/{match.group(1)}")
    return [store["properties"]["containerName"], match.group(2).strip("/")]


_DATA_ASSET = re.compile(r"^(?:azureml:)?(/subscriptions/.+/workspaces/[^/]+)/data/([^/]+)"
                         r"/versions/([^/]+)$", re.IGNORECASE)


def _data_asset_uri(ctx: Context, job: dict[str, Any], uri: str) -> str:
    """The dataUri of the data asset version an input names by its ARM id, else `uri`.

    azure-ai-ml 1.35 sends an azureml:NAME:VERSION input as the version's ARM id
    (BatchEndpointOperations._resolve_input: OperationOrchestrator.get_asset_arm_id,
    VERSIONED_RESOURCE_ID_FORMAT, workspaces/{ws}/data/{name}/versions/{version}). The job
    reads the files the version references; a version that does not exist, or is not files
    (mltable: "Create jobs and input data for batch endpoints" gives model deployments
    uri_file and uri_folder data assets), fails the job with a UserError.
    """
    match = _DATA_ASSET.match(uri)
    if not match:
        return uri
    workspace, name, version = match.groups()
    ws_id = job["id"].rsplit("/jobs/", 1)[0]
    asset = (ctx.store.get(f"{ws_id}/data/{name}/versions/{version}")
             if workspace.lower() == ws_id.lower() else None)
    if asset is None:
        raise LroFailure("UserError", f"The input data asset {name}:{version} could not be "
                         "found in the workspace.")
    if asset["properties"]["dataType"] not in ("uri_file", "uri_folder"):
        raise LroFailure("UserError", f"The input data asset {name}:{version} is of type "
                         f"{asset['properties']['dataType']}; a model deployment reads "
                         "uri_file or uri_folder data.")
    return asset["properties"]["dataUri"]


def _fetch_input(ctx: Context, job: dict[str, Any], dest: Path) -> list[str]:
    uri = _data_asset_uri(ctx, job, job[PRIVATE]["input"]["uri"])
    if uri.lower().startswith(("http://", "https://")) and "/datastores/" not in uri:
        raise LroFailure("UserError", f"The input '{uri}' is a public URL; the stand-in only "
                         "reads inputs from the workspace's datastores.")
    try:
        container, path = resolve_blob(ctx, uri)
    except ApiError as exc:
        raise LroFailure("UserError", f"The input '{uri}' cannot be read: {exc.message}") from exc
    kind = str(job[PRIVATE]["input"].get("jobInputType") or "").replace("_", "").lower()
    if kind in ("urifile", "urifolder"):
        # A uri_file input references a single file, a uri_folder input a folder ("Data
        # concepts in Azure Machine Learning", learn.microsoft.com, concept-data: Data types):
        # a job whose input is the other kind finds nothing it can read.
        return _fetch_typed_input(ctx, uri, kind, container, path, dest)
    files = sorted(str(p) for p in ctx.azurite.download(container, path, dest))
    if not files:
        raise LroFailure("UserError", f"The input '{uri}' has no files.")
    return files


def _fetch_typed_input(ctx: Context, uri: str, kind: str, container: str, path: str,
                       dest: Path) -> list[str]:
    # The blob at `path` (uri_file), or the blobs under `path/` (uri_folder), into dest.
    names = ctx.azurite.list(container, path)
    if kind == "urifile":
        if path not in names:
            what = "a folder" if any(n.startswith(path + "/") for n in names) else "nothing"
            raise LroFailure("UserError", f"The input '{uri}' is a uri_file input, but there "
                             f"is {what} at its path, not a file.")
        chosen = {path: os.path.basename(path)}
    else:
        under = path + "/" if path else ""  # an empty path is the datastore's root
        chosen = {n: n[len(under):] for n in names if n.startswith(under) and n != path}
        if not chosen:
            what = "a file" if path in names else "nothing"
            raise LroFailure("UserError", f"The input '{uri}' is a uri_folder input, but "
                             f"there is {what} at its path, no folder of files.")
    files = []
    for name, relative in sorted(chosen.items()):
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(ctx.azurite.read(container, name))
        files.append(str(target))
    return files


def _run(ctx: Context, rid: str, config: dict[str, Any], work: Path) -> None:
    name = rid.rsplit("/", 1)[-1]
    (work / "output").mkdir()
    config_path = work / "config.json"
    config_path.write_text(json.dumps(config))
    from azml_local.serving import installer

    # AZUREML_BI_OUTPUT_PATH is the job's output folder: what the scoring script writes there
    # is the job's `score` output, next to the append_row file ("Customize outputs in batch
    # deployments", learn.microsoft.com, how-to-deploy-model-custom-output; azureml-examples
    # endpoints/batch/deploy-models/custom-outputs-parquet/code/batch_driver.py).
    env = {**installer.scoring_env(), **config["env_vars"], "AZUREML_MODEL_DIR":
           config["model_dir"], "AZUREML_BI_OUTPUT_PATH": str(work / "output"),
           "PYTHONUNBUFFERED": "1"}
    with open(work / "job_log.txt", "a") as out:
        process = subprocess.Popen(
            [str(Path(config["env_dir"]) / "bin" / "python"), str(SUPPORT / "batch_driver.py"),
             str(config_path)], stdout=out, stderr=subprocess.STDOUT, env=env,
            cwd=config["code_dir"], start_new_session=True)
    track(rid, [process])
    try:
        process.wait()
    finally:
        untrack(rid)
    if ctx.store.get(rid)["properties"]["status"] in ("CancelRequested", "Canceled"):
        return
    result_path = Path(config["result_file"])
    if not result_path.exists():
        raise LroFailure("UserError", f"The scoring process ended with exit code "
                         f"{process.returncode} before reporting; see the job's log.")
    result = json.loads(result_path.read_text())
    append_log(ctx, name, f"{result['succeeded']} succeeded, {result['failed']} failed")
    if result["status"] != "Completed":
        raise LroFailure(result["error"]["code"], result["error"]["message"])
    _upload_output(ctx, name, work / "output", config)
    set_status(ctx, rid, status="Completed")


def _upload_output(ctx: Context, name: str, output: Path, config: dict[str, Any]) -> None:
    # Every file of the output folder (the append_row file, and whatever the scoring script
    # wrote to AZUREML_BI_OUTPUT_PATH, in its sub-folders too) becomes the `score` output. An
    # invocation's uri_file output (_output_blob) names the append_row file's place; the other
    # files go beside it.
    container, folder = ctx.blob_container, f"azureml/{name}/score"
    placed = config.get("output_blob")
    if placed:
        container, folder = placed[0], placed[1].rpartition("/")[0]
    client = ctx.azurite.client()
    for path in sorted(p for p in output.rglob("*") if p.is_file()):
        blob = f"{folder}/{path.relative_to(output).as_posix()}".lstrip("/")
        if placed and str(path) == config["output_file"]:
            blob = placed[1]
        client.get_blob_client(container, blob).upload_blob(path.read_bytes(), overwrite=True)


def cancel_job(ctx: Context, rid: str) -> None:
    with _lock:
        processes = list(_running.get(rid.lower()) or [])
    _kill(processes)
    body = ctx.store.get(rid)
    if body and body["properties"]["status"] not in TERMINAL:
        set_status(ctx, rid, status="Canceled")


def recover(ctx: Context) -> None:
    """After a restart: jobs that were running end Failed (their processes are gone)."""
    for body in ctx.store.all():
        if body.get("type", "").endswith("/workspaces/jobs") and \
                body["properties"]["status"] not in TERMINAL:
            set_status(ctx, body["id"], status="Failed", error={
                "code": "SystemError", "message": "The stand-in stopped while the job ran."})


def shutdown(ctx: Context) -> None:
    with _lock:
        processes = [p for group in _running.values() for p in group]
    _kill(processes)


def _kill(processes: list[subprocess.Popen[bytes]]) -> None:
    # Each process leads its own session (start_new_session): the whole tree goes.
    for process in processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
