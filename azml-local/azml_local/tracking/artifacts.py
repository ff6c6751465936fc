"""A run's artifacts through Azure's run history, as azureml-mlflow stores and reads them.

azureml-mlflow does not send artifacts through MLflow's REST API: its artifact repository
(_store/artifact/artifact_repo.py) uses the run history's artifact routes
(_restclient/run_artifact/operations/_run_artifacts_operations.py):
- POST .../artifacts/batch/metadata {"paths": [{"path"}]} registers empty artifacts and answers
  each one's `contentUri`, a SAS URL the client then uploads the file to with azure-storage-blob
  (_client/artifact/run_artifact_client.py `_create_empty_artifacts`, `upload_artifact`);
- GET .../artifacts lists the run's artifacts (`list_in_container`, PaginatedArtifactList);
- GET .../artifacts/contentinfo?path= answers one artifact's SAS URL to download
  (`get_content_information`).
The client downloads only from URLs on the cloud's blob endpoint, `https://*.blob.<storage
suffix>/` (_client/artifact/_utils/blob_artifact_util.py `is_source_uri_matches_storage_blob`),
so the URLs name the account on local mode's storage suffix, reached through its proxy.

The blobs live in the workspace's storage account (Azurite) where Azure keeps run artifacts:
container `azureml`, `ExperimentRun/dcid.<run id>/<path>` (origin `ExperimentRun`, container
`dcid.<run id>` in the artifact records).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from azure.storage.blob import BlobSasPermissions, generate_blob_sas

from azml_local.infra.azurite import ACCOUNT, ACCOUNT_KEY
from azml_local.infra.web import ApiError, Request, Response, Router
from azml_local.resources.context import WS, Context

HISTORY = "/history/v1.0" + WS
CONTAINER = "azureml"
ORIGIN = "ExperimentRun"
_created = threading.Lock()


def _blob_name(run_id: str, path: str) -> str:
    return f"{ORIGIN}/dcid.{run_id}/{path}"


def _content_uri(ctx: Context, blob: str, write: bool) -> str:
    permission = BlobSasPermissions(read=True, create=write, write=write)
    sas = generate_blob_sas(ACCOUNT, CONTAINER, blob, account_key=ACCOUNT_KEY,
                            permission=permission,
                            expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    return (f"https://{ACCOUNT}.blob.core.localhost:{ctx.azurite.port}/{CONTAINER}/"
            f"{quote(blob)}?{sas}")


def _record(run_id: str, path: str) -> dict[str, Any]:
    return {"artifactId": f"{ORIGIN}/dcid.{run_id}/{path}", "origin": ORIGIN,
            "container": f"dcid.{run_id}", "path": path}


def _check(ctx: Context, request: Request) -> str:
    """Token, workspace, and the run (which MLflow's server must know); the run id."""
    p = request.params
    ctx.identity.check_workspace_bearer(request, WS.format(sub=p["sub"], rg=p["rg"], ws=p["ws"]))
    ctx.workspace(request)
    run_id = p["run"]
    status, _, _ = ctx.tracking.forward("GET", f"/api/2.0/mlflow/runs/get?run_id={quote(run_id)}",
                                        b"", {})
    if status != 200:
        raise ApiError(404, "UserError", f"Run {run_id} was not found.")
    with _created:
        ctx.azurite.ensure_container(CONTAINER)
    return run_id


def _paths(ctx: Context, run_id: str) -> list[str]:
    prefix = _blob_name(run_id, "")
    return [name[len(prefix):] for name in ctx.azurite.list(CONTAINER, prefix)]


def batch_create(ctx: Context, request: Request) -> Response:
    run_id = _check(ctx, request)
    body = request.json_object()
    wanted = [item.get("path") for item in body.get("paths") or [] if isinstance(item, dict)]
    if not wanted or not all(isinstance(path, str) and path for path in wanted):
        raise ApiError(400, "UserError", "paths must name at least one artifact path.")
    existing = set(_paths(ctx, run_id))
    result: dict[str, dict[str, Any]] = {"artifacts": {}, "artifactContentInformation": {},
                                         "errors": {}}
    for path in wanted:
        # Run artifacts are write-once on Azure: a second upload to a path fails with this
        # error (seen from a job in lightly-ai/lightly-train#256).
        if path in existing:
            result["errors"][path] = {"error": {
                "code": "UserError",
                "message": f"Resource Conflict: ArtifactId {_blob_name(run_id, path)} "
                           "already exists."}}
            continue
        record = _record(run_id, path)
        result["artifacts"][path] = record
        result["artifactContentInformation"][path] = {
            **record, "contentUri": _content_uri(ctx, _blob_name(run_id, path), write=True)}
    return Response(200, result)


def list_artifacts(ctx: Context, request: Request) -> Response:
    run_id = _check(ctx, request)
    records = [_record(run_id, path) for path in sorted(_paths(ctx, run_id))]
    return Response(200, {"value": records, "continuationToken": None, "nextLink": None})


def content_info(ctx: Context, request: Request) -> Response:
    run_id = _check(ctx, request)
    path = request.query.get("path", "")
    if path not in set(_paths(ctx, run_id)):
        raise ApiError(404, "UserError", f"Artifact {path} was not found in run {run_id}.")
    return Response(200, {**_record(run_id, path),
                          "contentUri": _content_uri(ctx, _blob_name(run_id, path), False)})


def add_routes(router: Router, ctx: Context) -> None:
    # Both spellings the client has: by experiment name and by experiment id.
    for kind in ("experiments", "experimentids"):
        base = HISTORY + "/" + kind + "/{experiment}/runs/{run}/artifacts"
        router.add("POST", base + "/batch/metadata", lambda r: batch_create(ctx, r))
        router.add("GET", base, lambda r: list_artifacts(ctx, r))
        router.add("GET", base + "/contentinfo", lambda r: content_info(ctx, r))
