"""The workspace's MLflow routes: Azure's path prefix in front of MLflow's own REST API.

azureml-mlflow (the plugin Microsoft documents for MLflow on Azure ML, "Track ML experiments and
models with MLflow", learn.microsoft.com/azure/machine-learning/how-to-use-mlflow-cli-runs) turns
the workspace's tracking URI `azureml://<host>/mlflow/v1.0/<workspace ARM id>` into the base
`https://<host>/mlflow/v2.0/<workspace ARM id>` (_store/azureml_reststore.py,
`get_host_credentials`: "/mlflow/v2.0" for MLflow 2 and 3) and MLflow's RestStore appends its REST
paths (`/api/2.0/mlflow/runs/create`, ...). Local mode checks the bearer token as the workspace
does, then forwards the MLflow part unchanged to MLflow's own server (server.py) and passes its
answer back; the only change is the artifact location, which the server stores under a fixed
name and which is rewritten to the Azure shape seen on a real workspace:
`azureml://<host>/mlflow/v2.0/<workspace ARM id>/experiments/<experiment>/runs/<run>/artifacts`
(azureml-mlflow _store/artifact/utils.py `_ARTIFACT_URI_REGEX` parses exactly this into the
experiment and run its artifact client calls the run history with, artifacts.py).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from azml_local.infra.web import Request, Response, Router
from azml_local.resources.context import WS, Context
from azml_local.tracking import unsupported
from azml_local.tracking.server import STORED_ROOT

MLFLOW_PREFIX = "/mlflow/v2.0" + WS
# MLflow's REST API (2.0 and the 3.0 paths MLflow 3 clients call); not the artifact proxy
# (`/api/2.0/mlflow-artifacts`), which Azure does not serve: artifacts go to the run history.
_API = r"/api/(?P<api>[23]\.0/mlflow/.+)"
_STORED = re.compile(re.escape(STORED_ROOT).encode() + rb"/([^/\"]+)(?:/([^/\"]+)/artifacts)?")


def host(ctx: Context) -> str:
    """The workspace's regional API host (`<region>.api.azureml.ms` on Azure): local mode's own
    address, as its discovery document also says (resources/workspace.py).
    """
    return urlsplit(ctx.base_url).netloc


def tracking_uri(ctx: Context, workspace_id: str) -> str:
    """The workspace's mlFlowTrackingUri as Azure gives it: azureml://<host>/mlflow/v1.0<ws id>
    (azure-ai-ml entities/_workspace/workspace.py reads it; azureml-mlflow's
    `get_mlflow_tracking_uri_v2` swaps v1.0 for v2.0).
    """
    return f"azureml://{host(ctx)}/mlflow/v1.0{workspace_id}"


def _workspace_id(request: Request) -> str:
    p = request.params
    return WS.format(sub=p["sub"], rg=p["rg"], ws=p["ws"])


def rewrite_artifact_uris(ctx: Context, workspace_id: str, data: bytes) -> bytes:
    """The stored artifact locations in an MLflow answer, in the workspace's Azure form."""
    base = f"azureml://{host(ctx)}/mlflow/v2.0{workspace_id}/experiments/".encode()

    def azure(match: re.Match[bytes]) -> bytes:
        experiment, run = match.group(1), match.group(2)
        return base + experiment + (b"/runs/" + run + b"/artifacts" if run else b"")

    return _STORED.sub(azure, data)


def forward(ctx: Context, request: Request) -> Response:
    workspace_id = _workspace_id(request)
    ctx.identity.check_workspace_bearer(request, workspace_id)
    ws = ctx.workspace(request)  # 404 as ARM for a workspace that does not exist
    if unsupported.not_served(request.params["api"]):
        return Response(404, b"")
    body = request.json() if request.body else None
    reason = unsupported.unsupported(request.params["api"], body)
    if reason:
        return Response(400, unsupported.refusal(reason), {"Content-Type": "application/json"})
    target = "/api/" + request.params["api"]
    if request.raw_query:
        target += "?" + request.raw_query
    headers = {"Content-Type": request.headers.get("Content-Type") or "application/json"}
    status, answer_headers, data = ctx.tracking.forward(request.method, target, request.body,
                                                        headers)
    return Response(status, rewrite_artifact_uris(ctx, ws["id"], data), answer_headers)


def add_routes(router: Router, ctx: Context) -> None:
    for method in ("GET", "POST", "PATCH", "DELETE"):
        router.add(method, MLFLOW_PREFIX + _API, lambda request: forward(ctx, request))
