"""Batch endpoints and their model deployments: ARM routes, Azure's validation, LROs.

Sources for the rules (Microsoft's):
- REST API spec, Microsoft.MachineLearningServices stable 2024-04-01 (mfe.json):
  BatchEndpointProperties (authMode, defaults.deploymentName, scoringUri) and
  BatchDeploymentProperties: compute (the cluster's name or id), model, codeConfiguration,
  environmentId, errorThreshold ("Range is [-1, int.MaxValue] ... If set to -1 (the lower
  bound), all failures during batch inference will be ignored"), loggingLevel (Debug, Info,
  Warning), maxConcurrencyPerInstance, miniBatchSize ("For FileDataset, this is the number of
  files per mini-batch"), outputAction (AppendRow, SummaryOnly), outputFileName ("Customized
  output file name for append_row output action"), resources.instanceCount, retrySettings
  (maxRetries, timeout as an ISO 8601 duration), description (a string), and the tracked
  resource's tags (tags.py).
- "Authorization on batch endpoints" (learn.microsoft.com): batch endpoints support Microsoft
  Entra tokens only, so authMode is AADToken.
- "Deploy models for scoring in batch endpoints": MLflow models need no scoring script or
  environment; any other model needs both; the endpoint runs its default deployment
  (`defaults.deployment_name`) unless the invocation names one.
"""

from __future__ import annotations

from typing import Any

from azml_local.infra.lro import LroFailure
from azml_local.infra.state import PRIVATE, public
from azml_local.infra.web import ApiError, Request, Response, Router, bad_request
from azml_local.resources import compute_clusters
from azml_local.resources.context import (
    LOCATION,
    WS,
    Context,
    caller,
    check_string_map,
    duration_seconds,
    field_of,
    get_or_404,
    properties_of,
    system_data,
)
from azml_local.resources.online import NAME, refuse_if_busy, set_state
from azml_local.resources.tags import checked_tags

# A write (PUT or DELETE; the SDK sends no PATCH) to a batch endpoint or deployment with an
# operation running is refused with the online routes' 409 (online.refuse_if_busy). No Azure ML
# document found states it for batch resources: the 2024-04-01 REST API spec gives every error of
# batchEndpoints/batchDeployments only as `default`, and the troubleshooting article's 409 rule
# names online endpoints. The rule is ARM's resource provider contract, which every ARM resource
# follows (the online rule is its instance): "The server must never have more than one ongoing PUT
# operation for a given resource ... should immediately return a 409 Conflict", "if the server
# receives PUT request while there is an ongoing DELETE operation, the server should return 409
# Conflict", "If the server receives a DELETE request while there is an ongoing PUT or PATCH
# operation, the server should return 409 Conflict immediately" (Azure/azure-resource-manager-rpc,
# v1.0/Addendum.md, "Creating or Updating Resources Asynchronously" and "Delete Resource
# Asynchronously"). A provisioningState that is not terminal (Creating, Updating, Deleting,
# Scaling) marks the running operation.
# The contract lets a repeated DELETE be answered 202 instead; the stand-in keeps the stricter 409
# of the online routes, which the runtime waits out (azml_when_idle) either way.
BEP = WS + "/batchEndpoints/{endpoint}"
BDEP = BEP + "/deployments/{deployment}"
OUTPUT_ACTIONS = ("AppendRow", "SummaryOnly")
LOGGING_LEVELS = ("Debug", "Info", "Warning")
# The spec's defaults for what a deployment leaves out.
DEFAULTS = {"miniBatchSize": 10, "maxConcurrencyPerInstance": 1, "errorThreshold": -1,
            "outputAction": "AppendRow", "outputFileName": "predictions.csv",
            "loggingLevel": "Info"}
DEFAULT_RETRY = {"maxRetries": 3, "timeout": "PT30S"}


def endpoint_id(ctx: Context, request: Request) -> str:
    return f"{ctx.workspace(request)['id']}/batchEndpoints/{request.params['endpoint']}"


def endpoint_body(ctx: Context, request: Request) -> dict[str, Any]:
    return get_or_404(ctx, endpoint_id(ctx, request), "Batch endpoint",
                      request.params["endpoint"])


def endpoint_view(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    body = public(body)
    # Azure's is https://<name>.<region>.inference.ml.azure.com/jobs; ours is on this server.
    body["properties"]["scoringUri"] = f"{ctx.base_url}/batchEndpoints/{body['name']}/jobs"
    body["properties"]["swaggerUri"] = None
    return body


def find_deployment(ctx: Context, endpoint: dict[str, Any], name: str) -> dict[str, Any] | None:
    return ctx.store.get(f"{endpoint['id']}/deployments/{name}")


def _int_at_least(props: dict[str, Any], path: str, low: int) -> None:
    value = field_of(props, path, int, required=False)
    if value is not None and value < low:
        raise bad_request(f"'{path}' must be at least {low}; it is {value}.")


def validate_deployment(ctx: Context, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The deployment's properties with the spec's defaults, or a 400 naming the field."""
    props = dict(properties_of(body))
    if props.get("deploymentConfiguration"):
        raise bad_request("Pipeline component batch deployments are not supported by the "
                          "stand-in; deploy a model.")
    target = field_of(props, "compute", str)
    cluster = compute_clusters.find(ctx, workspace_id, target)
    if cluster is None:
        raise bad_request(f"Compute '{target}' was not found in the workspace; a batch "
                          "deployment runs on an existing compute cluster.", "BadArgument")
    compute_type = cluster["properties"].get("computeType")
    if compute_type != "AmlCompute":
        # Only an AmlCompute cluster has the scaleSettings the checks below read (a KeyError
        # here was a 500, which the SDK and the components retry). Azure itself documents batch
        # inference on an attached KubernetesCompute ("Apply batch inference": Yes, in
        # "Introduction to Kubernetes compute target", learn.microsoft.com,
        # how-to-attach-kubernetes-anywhere), and the batch deployment YAML reference only
        # asks `compute` to be "an existing compute in the workspace". The stand-in runs batch
        # jobs on its cluster alone, so it refuses any other compute with a 400 naming it, as
        # it refuses pipeline component deployments above: stricter than Azure, never more
        # forgiving.
        raise bad_request(
            f"Compute '{cluster['name']}' is of type {compute_type}; the stand-in runs batch "
            f"deployments only on an AmlCompute cluster such as "
            f"'{compute_clusters.COMPUTE_NAME}'.", "BadArgument")
    props["compute"] = cluster["id"]
    model = field_of(props, "model", dict)
    if field_of(model, "referenceType", str) != "Id":
        raise bad_request("'model.referenceType' must be Id (a registered model version).")
    field_of(model, "assetId", str)
    field_of(props, "environmentId", str, required=False)
    # description: "Description of the endpoint deployment." (EndpointDeploymentPropertiesBase,
    # a string); tags are the TrackedResource's, checked by tags.checked_tags.
    field_of(props, "description", str, required=False)
    field_of(props, "codeConfiguration.scoringScript", str, required=False)
    field_of(props, "codeConfiguration.codeId", str, required=False)
    check_string_map(props, "environmentVariables")
    check_string_map(props, "properties")
    _int_at_least(props, "miniBatchSize", 1)
    _int_at_least(props, "maxConcurrencyPerInstance", 1)
    _int_at_least(props, "errorThreshold", -1)
    _int_at_least(props, "resources.instanceCount", 1)
    count = (props.get("resources") or {}).get("instanceCount") or 1
    nodes = cluster["properties"]["properties"]["scaleSettings"]["maxNodeCount"]
    if count > nodes:
        raise bad_request(f"'resources.instanceCount' {count} is more than the compute "
                          f"'{cluster['name']}' can scale to ({nodes} nodes).")
    for path, allowed in (("outputAction", OUTPUT_ACTIONS), ("loggingLevel", LOGGING_LEVELS)):
        value = field_of(props, path, str, required=False)
        if value is not None:  # ARM enums (modelAsString) match ignoring case
            known = {a.lower(): a for a in allowed}
            if value.lower() not in known:
                raise bad_request(f"'{path}' must be one of {', '.join(allowed)}; it is "
                                  f"'{value}'.")
            props[path] = known[value.lower()]
    # outputFileName: "Customized output file name for append_row output action." The spec
    # states no rule for it with SummaryOnly (the property is kept and defaults to
    # predictions.csv); azure-ai-ml refuses the pair before sending ("When output_action is set
    # to summary_only, the output_file_name need not to be specified.", 1.35
    # BatchDeployment._validate_output_action), so no SDK request carries it.
    name = field_of(props, "outputFileName", str, required=False)
    if name is not None and (not name.strip() or "/" in name or "\\" in name):
        raise bad_request(f"'outputFileName' must be a file name; it is '{name}'.")
    retry = field_of(props, "retrySettings", dict, required=False) or {}
    _int_at_least(retry, "maxRetries", 0)
    timeout = field_of(retry, "timeout", str, required=False)
    if timeout is not None and not duration_seconds(timeout):
        raise bad_request(f"'retrySettings.timeout' must be a positive ISO 8601 duration "
                          f"(e.g. PT30S); it is '{timeout}'.")
    for key, value in DEFAULTS.items():
        if props.get(key) is None:
            props[key] = value
    props["retrySettings"] = {**DEFAULT_RETRY, **{k: v for k, v in retry.items()
                                                  if v is not None}}
    props["resources"] = {**(props.get("resources") or {}), "instanceCount": count}
    model_body = ctx.store.get(model["assetId"].strip())
    no_code = not props.get("codeConfiguration") and not props.get("environmentId")
    if no_code and model_body and model_body["properties"].get("modelType") != "mlflow_model":
        raise bad_request("A scoring script and an environment are required unless the "
                          "model is an MLflow model.")
    if bool(props.get("codeConfiguration")) != bool(props.get("environmentId")):
        raise bad_request("A deployment with a scoring script needs an environment, and an "
                          "environment needs a scoring script (or neither, for MLflow models).")
    return props


def _check_assets(ctx: Context, props: dict[str, Any]) -> None:
    # The operation fails on assets that do not exist (as the online deployments' does).
    refs = [(props["model"]["assetId"], "Model", "ModelNotFound")]
    if props.get("environmentId"):
        refs.append((props["environmentId"], "Environment", "ResourceNotFound"))
    code_id = (props.get("codeConfiguration") or {}).get("codeId")
    if code_id:
        refs.append((code_id, "Code", "ResourceNotFound"))
    for rid, kind, code in refs:
        if ctx.store.get(rid.strip()) is None and not (
            kind == "Environment" and rid.strip().lower().startswith("azureml://registries/")
        ):
            raise LroFailure(code, f"{kind} '{rid}' could not be found.")


def add_routes(router: Router, ctx: Context) -> None:
    def list_endpoints(request: Request) -> Response:
        ws = ctx.workspace(request)
        items = ctx.store.children(ws["id"], "batchEndpoints")
        return Response(200, {"value": [endpoint_view(ctx, e) for e in items]})

    def get_endpoint(request: Request) -> Response:
        return Response(200, endpoint_view(ctx, endpoint_body(ctx, request)))

    def put_endpoint(request: Request) -> Response:
        ws = ctx.workspace(request)
        name = request.params["endpoint"]
        if not NAME.match(name):
            raise bad_request(f"Batch endpoint name '{name}' is invalid: 3-32 characters, "
                              "starting with a letter, letters, digits and '-'.")
        body = request.json_object()
        props = dict(properties_of(body))
        mode = field_of(props, "authMode", str, required=False) or "AADToken"
        if mode.lower() != "aadtoken":  # the SDK sends "aadToken"; enums match ignoring case
            raise bad_request(f"Batch endpoints support authMode AADToken only, not '{mode}'.")
        tags = checked_tags(body)
        rid = f"{ws['id']}/batchEndpoints/{name}"
        with ctx.store.lock:
            previous = ctx.store.get(rid)
            refuse_if_busy(previous, request.params["ws"])
            default = field_of(props, "defaults.deploymentName", str, required=False)
            if default and (previous is None or find_deployment(ctx, previous, default) is None):
                raise bad_request(f"The default deployment '{default}' does not exist in batch "
                                  f"endpoint '{name}'.")
            props["authMode"] = "AADToken"
            props["defaults"] = {"deploymentName": default} if default else {}
            props["provisioningState"] = "Updating" if previous else "Creating"
            record = {
                "id": previous["id"] if previous else rid,
                "name": previous["name"] if previous else name,
                "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints",
                "location": body.get("location") or LOCATION,
                "kind": body.get("kind") or "",
                "tags": tags,
                "identity": body.get("identity") or {"type": "SystemAssigned"},
                "systemData": system_data(previous, caller(request)),
                "properties": props,
                PRIVATE: previous[PRIVATE] if previous else {},
            }
            ctx.store.put(record)
        headers = ctx.ops.start(request, rid, lambda: set_state(ctx, rid, "Succeeded"),
                                lambda _: set_state(ctx, rid, "Failed"))
        return Response(200 if previous else 201, endpoint_view(ctx, record), headers)

    def delete_endpoint(request: Request) -> Response:
        rid = endpoint_id(ctx, request)
        with ctx.store.lock:
            body = ctx.store.get(rid)
            if body is None:
                return Response(204)
            refuse_if_busy(body, request.params["ws"])
            body["properties"]["provisioningState"] = "Deleting"
            ctx.store.put(body)
        headers = ctx.ops.start(request, rid, lambda: ctx.store.delete(rid),
                                lambda _: set_state(ctx, rid, "Failed"))
        return Response(202, None, headers)

    def list_deployments(request: Request) -> Response:
        rid = endpoint_body(ctx, request)["id"]
        return Response(200, {"value": [public(d) for d in ctx.store.children(rid,
                                                                              "deployments")]})

    def get_deployment(request: Request) -> Response:
        endpoint = endpoint_body(ctx, request)
        name = request.params["deployment"]
        body = find_deployment(ctx, endpoint, name)
        if body is None:
            raise ApiError(404, "ResourceNotFound", f"Deployment '{name}' could not be found.")
        return Response(200, public(body))

    def put_deployment(request: Request) -> Response:
        ws = ctx.workspace(request)
        endpoint = endpoint_body(ctx, request)
        name = request.params["deployment"]
        if not NAME.match(name):
            raise bad_request(f"Deployment name '{name}' is invalid: 3-32 characters, starting "
                              "with a letter, letters, digits and '-'.")
        body = request.json_object()
        props = validate_deployment(ctx, ws["id"], body)
        tags = checked_tags(body)
        rid = f"{endpoint['id']}/deployments/{name}"
        with ctx.store.lock:
            previous = ctx.store.get(rid)
            refuse_if_busy(previous, request.params["ws"])
            props["provisioningState"] = "Updating" if previous else "Creating"
            record = {
                "id": previous["id"] if previous else rid,
                "name": previous["name"] if previous else name,
                "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints/deployments",
                "location": body.get("location") or LOCATION,
                "kind": body.get("kind") or "",
                "tags": tags,
                "systemData": system_data(previous, caller(request)),
                "properties": props,
                PRIVATE: {},
            }
            ctx.store.put(record)

        def work() -> None:
            _check_assets(ctx, props)
            set_state(ctx, rid, "Succeeded")

        headers = ctx.ops.start(request, rid, work, lambda _: set_state(ctx, rid, "Failed"))
        return Response(200 if previous else 201, public(record), headers)

    def delete_deployment(request: Request) -> Response:
        endpoint = endpoint_body(ctx, request)
        name = request.params["deployment"]
        rid = f"{endpoint['id']}/deployments/{name}"
        with ctx.store.lock:
            body = ctx.store.get(rid)
            if body is None:
                return Response(204)
            refuse_if_busy(body, request.params["ws"])
            body["properties"]["provisioningState"] = "Deleting"
            ctx.store.put(body)

        def work() -> None:
            ctx.store.delete(rid)
            with ctx.store.lock:  # the endpoint's default goes with its deployment
                current = ctx.store.get(endpoint["id"])
                default = ((current or {}).get("properties", {}).get("defaults") or {})
                if current and str(default.get("deploymentName", "")).lower() == name.lower():
                    current["properties"]["defaults"] = {}
                    ctx.store.put(current)

        headers = ctx.ops.start(request, rid, work, lambda _: set_state(ctx, rid, "Failed"))
        return Response(202, None, headers)

    router.add("GET", WS + "/batchEndpoints", list_endpoints)
    router.add("GET", BEP, get_endpoint)
    router.add("PUT", BEP, put_endpoint)
    router.add("DELETE", BEP, delete_endpoint)
    router.add("GET", BEP + "/deployments", list_deployments)
    router.add("GET", BDEP, get_deployment)
    router.add("PUT", BDEP, put_deployment)
    router.add("DELETE", BDEP, delete_deployment)


def recover(ctx: Context) -> None:
    """After a restart: interrupted operations on batch resources end as the online ones do."""
    for body in ctx.store.all():
        if "/batchendpoints" not in body.get("type", "").lower():
            continue
        state = (body.get("properties") or {}).get("provisioningState")
        if state == "Deleting":
            ctx.store.delete(body["id"])
        elif state in ("Creating", "Updating"):
            set_state(ctx, body["id"], "Failed")
