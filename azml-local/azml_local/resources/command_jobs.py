"""Command jobs: PUT jobs/{name} with jobType Command, and the list of a workspace's jobs.

The rules, from Microsoft's REST API spec (azure-rest-api-specs, Microsoft.MachineLearningServices
stable 2024-04-01, mfe.json, definitions CommandJob, JobBase, JobResourceConfiguration,
CommandJobLimits, PyTorch/Mpi/TensorFlow DistributionConfiguration, JobInput/JobOutput; the same
shapes as azure-ai-ml 1.35's generated arm_ml_service models):
- `command` and `environmentId` are required ("[Required] The command to execute on startup of
  the job"; "[Required] The ARM resource ID of the Environment specification for the job"),
  both non-empty (minLength 1). `jobType` is the discriminator ("Command" here).
- `computeId` is the ARM id of a compute of the workspace; a job without one runs on serverless
  compute with `resources.instanceType` ("Model training on serverless compute",
  learn.microsoft.com, how-to-use-serverless-compute). `resources.instanceCount` is at least 1.
- `distribution.distributionType` is PyTorch, Mpi, TensorFlow or Ray with
  `processCountPerInstance` (PyTorch, Mpi) at least 1. Azure accepts a distribution on one node
  ("Distributed GPU training guide (SDK v2)", learn.microsoft.com, how-to-train-distributed-gpu:
  DistributedDataParallel "for both single-node and multi-node distributed training"; an MPI
  job's per-node launch is instance count 1), so the stand-in does too.
- `limits.timeout` is an ISO 8601 duration (CommandJobLimits, jobLimitsType Command).
- Inputs: `jobInputType` literal (a `value`) or uri_file, uri_folder, mlflow_model, custom_model,
  mltable (a `uri`); outputs: uri_file, uri_folder, mlflow_model, custom_model, mltable, with an
  optional `uri`. A job output without a uri goes to the default datastore under
  azureml/<job name>/<output name>/ ("Access data in a job", learn.microsoft.com: the default
  output path azureml://datastores/${{default_datastore}}/paths/azureml/${{name}}/${{output_name}}/).
- Job names are unique in the workspace; a job's definition does not change after submission.
Execution (queue, environment, inputs, the process, outputs) is in command_runs.py; get, cancel,
run details and logs are batch_jobs.py's routes, which serve every job.
"""

from __future__ import annotations

import re
import secrets
import threading
from typing import Any

from azml_local.infra.lro import now_iso
from azml_local.infra.state import PRIVATE
from azml_local.infra.web import ApiError, Request, Response, Router, bad_request
from azml_local.resources import batch_jobs, compute_clusters
from azml_local.resources.assets import DATASTORE_PATH
from azml_local.resources.context import WS, Context, duration_seconds, field_of

INPUT_TYPES = ("literal", "uri_file", "uri_folder", "mlflow_model", "custom_model", "mltable")
OUTPUT_TYPES = ("uri_file", "uri_folder", "mlflow_model", "custom_model", "mltable")
DISTRIBUTIONS = ("pytorch", "mpi", "tensorflow", "ray")
# The VM sizes the stand-in's serverless compute offers (Azure offers the sizes the region has
# and the subscription has quota for; a size it does not offer is refused at submission).
SERVERLESS_SIZES = ("standard_ds3_v2", "standard_ds4_v2", "standard_d4s_v3", "standard_e4s_v3",
                    "standard_f4s_v2", "standard_nc6s_v3", "standard_nc24ads_a100_v4")
# Binding syntax of a command: ${{inputs.x}}, ${{outputs.y}}; $[[...]] wraps an optional part
# ("CLI (v2) command job YAML schema", Expressions and "optional inputs").
BINDING = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$")


def _kind(entry: dict[str, Any], field: str) -> str:
    return str(entry.get(field) or "").lower()


def _check_inputs(ctx: Context, ws_id: str, inputs: Any) -> None:
    if not isinstance(inputs, dict):
        raise bad_request("'properties.inputs' must map input names to inputs.")
    for name, entry in inputs.items():
        if not isinstance(entry, dict) or _kind(entry, "jobInputType") not in INPUT_TYPES:
            got = entry.get("jobInputType") if isinstance(entry, dict) else entry
            raise bad_request(f"Input '{name}': jobInputType must be one of "
                              f"{', '.join(INPUT_TYPES)}; it is {got!r}.")
        if _kind(entry, "jobInputType") == "literal":
            if "value" not in entry:
                raise bad_request(f"Input '{name}' is a literal without a 'value'.")
            continue
        uri = entry.get("uri")
        if not isinstance(uri, str) or not uri.strip():
            raise bad_request(f"Input '{name}': 'uri' is required for a "
                              f"{entry['jobInputType']} input.")
        arm_id = uri[len("azureml:"):] if uri.startswith("azureml:/") else uri
        asset = re.search(r"/workspaces/[^/]+/(data|models)/([^/]+)/versions/([^/]+)$", arm_id)
        if arm_id.lower().startswith("/subscriptions/") and asset:
            if ctx.store.get(arm_id) is None:
                raise ApiError(404, "UserError", f"Input '{name}': {asset.group(1)} asset "
                               f"{asset.group(2)}:{asset.group(3)} could not be found.")


def _check_outputs(ctx: Context, ws_id: str, outputs: Any) -> None:
    if not isinstance(outputs, dict):
        raise bad_request("'properties.outputs' must map output names to outputs.")
    for name, entry in outputs.items():
        if not isinstance(entry, dict) or _kind(entry, "jobOutputType") not in OUTPUT_TYPES:
            got = entry.get("jobOutputType") if isinstance(entry, dict) else entry
            raise bad_request(f"Output '{name}': jobOutputType must be one of "
                              f"{', '.join(OUTPUT_TYPES)}; it is {got!r}.")
        uri = entry.get("uri")
        if uri is None:
            continue
        match = DATASTORE_PATH.search(uri) if isinstance(uri, str) else None
        if not match or not uri.startswith("azureml://"):
            raise bad_request(f"Output '{name}': 'uri' must be an azureml:// datastore path; "
                              f"it is {uri!r}.")
        if ctx.store.get(f"{ws_id}/datastores/{match.group(1)}") is None:
            raise bad_request(f"Output '{name}' names datastore '{match.group(1)}', which the "
                              "workspace does not have.")


def _check_command(props: dict[str, Any]) -> None:
    command = field_of(props, "command", str)
    if not command.strip():
        raise bad_request("'properties.command' must not be empty.")
    declared = {"inputs": props.get("inputs") or {}, "outputs": props.get("outputs") or {}}
    for kind, name in BINDING.findall(OPTIONAL.sub("", command)):
        if name not in declared[kind]:
            raise bad_request(f"The command refers to ${{{{{kind}.{name}}}}}, but the job has "
                              f"no {kind[:-1]} named '{name}'.")


def _compute(ctx: Context, ws_id: str, props: dict[str, Any]) -> tuple[str, int]:
    """(the compute's name or "serverless", its node limit), after the compute rules."""
    resources = field_of(props, "resources", dict, required=False) or {}
    count = field_of(resources, "instanceCount", int, required=False)
    if count is not None and count < 1:
        raise bad_request(f"'resources.instanceCount' must be at least 1; it is {count}.")
    size = field_of(resources, "instanceType", str, required=False)
    compute_id = field_of(props, "computeId", str, required=False)
    if not compute_id:
        if size is not None and size.lower() not in SERVERLESS_SIZES:
            raise bad_request(f"Serverless compute does not offer the instance type '{size}' in "
                              f"this region; it offers {', '.join(SERVERLESS_SIZES)}.")
        return "serverless", compute_clusters.MAX_NODES
    cluster = compute_clusters.find(ctx, ws_id, compute_id)
    if cluster is None:
        raise bad_request(f"Compute '{compute_id.rsplit('/', 1)[-1]}' was not found in the "
                          "workspace.", "BadArgument")
    props["computeId"] = cluster["id"]
    kind = cluster["properties"]["computeType"]
    if kind == "Kubernetes":
        known = cluster["properties"]["properties"]["instanceTypes"]
        if size is not None and size not in known:
            raise bad_request(f"Instance type '{size}' is not defined on compute "
                              f"'{cluster['name']}'; it has {', '.join(sorted(known))}.")
        return cluster["name"], compute_clusters.MAX_NODES
    nodes = cluster["properties"]["properties"]["scaleSettings"]["maxNodeCount"]
    if count is not None and count > nodes:
        raise bad_request(f"'resources.instanceCount' {count} is more than the compute "
                          f"'{cluster['name']}' can scale to ({nodes} nodes).")
    return cluster["name"], nodes


def _check_rest(props: dict[str, Any]) -> None:
    distribution = field_of(props, "distribution", dict, required=False)
    if distribution is not None:
        kind = _kind(distribution, "distributionType")
        if kind not in DISTRIBUTIONS:
            raise bad_request(f"'distribution.distributionType' must be PyTorch, Mpi, "
                              f"TensorFlow or Ray; it is {distribution.get('distributionType')!r}.")
        if kind in ("tensorflow", "ray"):
            raise bad_request(f"The stand-in runs PyTorch and Mpi distributions; "
                              f"{distribution['distributionType']} is not supported here.")
        per = field_of(distribution, "processCountPerInstance", int, required=False)
        if per is not None and per < 1:
            raise bad_request("'distribution.processCountPerInstance' must be at least 1; it "
                              f"is {per}.")
    limits = field_of(props, "limits", dict, required=False) or {}
    timeout = field_of(limits, "timeout", str, required=False)
    if timeout is not None and not duration_seconds(timeout):
        raise bad_request(f"'limits.timeout' must be a positive ISO 8601 duration; it is "
                          f"'{timeout}'.")
    env_vars = field_of(props, "environmentVariables", dict, required=False) or {}
    if not all(isinstance(v, str) for v in env_vars.values()):
        raise bad_request("'properties.environmentVariables' must map names to strings.")


def _check_assets(ctx: Context, props: dict[str, Any]) -> None:
    from azml_local.serving import curated

    env_id = field_of(props, "environmentId", str)
    if not env_id.strip():
        raise bad_request("'properties.environmentId' must not be empty.")
    if not curated.is_curated_or_registry(env_id) and ctx.store.get(env_id.strip()) is None:
        raise ApiError(404, "UserError", f"Environment '{env_id}' could not be found.")
    code_id = field_of(props, "codeId", str, required=False)
    if code_id and ctx.store.get(code_id.strip()) is None:
        raise ApiError(404, "UserError", f"Code '{code_id}' could not be found.")


def default_output_uri(job: str, output: str) -> str:
    return f"azureml://datastores/workspaceblobstore/paths/azureml/{job}/{output}/"


def _record(ctx: Context, ws_id: str, name: str, props: dict[str, Any], target: str
            ) -> dict[str, Any]:
    outputs = {key: {**entry, "uri": entry.get("uri") or default_output_uri(name, key)}
               for key, entry in (props.get("outputs") or {}).items()}
    view = {**props, "status": "NotStarted", "outputs": outputs,
            "displayName": props.get("displayName") or name,
            "experimentName": props.get("experimentName") or "Default",
            "tags": props.get("tags") or {}, "properties": props.get("properties") or {},
            "inputs": props.get("inputs") or {}, "isArchived": False,
            "environmentVariables": props.get("environmentVariables") or {}}
    return {
        "id": batch_jobs.job_id(ws_id, name), "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/jobs",
        "systemData": {"createdAt": now_iso(), "createdBy": "standin-service-principal",
                       "createdByType": "Application"},
        "properties": view,
        PRIVATE: {"start": now_iso(), "token": secrets.token_urlsafe(16), "error": None,
                  "target": target, "logs": ["user_logs/std_log.txt"]},
    }


def add_routes(router: Router, ctx: Context) -> None:
    def put_job(request: Request) -> Response:
        ws = ctx.workspace(request)
        name = request.params["job"]
        if not _NAME.match(name):
            raise bad_request(f"Job name '{name}' must start with a letter or digit and hold "
                              "only letters, digits, '-' and '_' (at most 255 characters).")
        body = request.json_object()
        props = field_of(body, "properties", dict)
        if str(props.get("jobType") or "") != "Command":
            raise bad_request(f"The stand-in runs command jobs (jobType Command); "
                              f"jobType is {props.get('jobType')!r}.")
        _check_command(props)
        _check_assets(ctx, props)
        target, _ = _compute(ctx, ws["id"], props)
        _check_rest(props)
        _check_inputs(ctx, ws["id"], props.get("inputs") or {})
        _check_outputs(ctx, ws["id"], props.get("outputs") or {})
        for key in ("tags", "properties"):
            value = props.get(key) or {}
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise bad_request(f"'properties.{key}' must map strings to strings.")
        record = _record(ctx, ws["id"], name, props, target)
        with ctx.store.lock:
            if ctx.store.get(record["id"]) is not None:
                raise ApiError(409, "UserError", f"A job named '{name}' already exists in the "
                               "workspace; job names are unique and a job cannot be changed.")
            ctx.store.put(record)
        from azml_local.resources import command_runs

        threading.Thread(target=command_runs.execute, args=(ctx, record["id"]),
                         name=f"job-{name}", daemon=True).start()
        return Response(201, batch_jobs.job_view(ctx, record))

    def list_jobs(request: Request) -> Response:
        # JobBase list (Jobs_List): the workspace's jobs; `tag` filters by a tag name.
        ws = ctx.workspace(request)
        prefix = ws["id"].lower() + "/jobs/"
        tag = request.query.get("tag")
        items = [batch_jobs.job_view(ctx, b) for b in ctx.store.all()
                 if b["id"].lower().startswith(prefix)
                 and (tag is None or tag in (b["properties"].get("tags") or {}))]
        return Response(200, {"value": items})

    router.add("PUT", WS + "/jobs/{job}", put_job)
    router.add("GET", WS + "/jobs", list_jobs)
