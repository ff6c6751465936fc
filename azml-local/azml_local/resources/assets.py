"""Versioned assets: models, codes, environments, data (containers + versions, uploads, flavors)."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

import yaml

from azml_local.infra.azurite import ACCOUNT
from azml_local.infra.state import PRIVATE, public
from azml_local.infra.web import ApiError, Request, Response, Router, bad_request
from azml_local.resources.context import (
    WS,
    Context,
    caller,
    check_string_map,
    field_of,
    get_or_404,
    properties_of,
    system_data,
)

KINDS = {"models": "Model", "codes": "Code", "environments": "Environment", "data": "Data"}
# Data assets: the REST API spec (Microsoft.MachineLearningServices stable 2024-04-01, mfe.json,
# DataVersions_CreateOrUpdate at workspaces/{ws}/data/{name}/versions/{version}) defines
# DataVersionBase with `dataType` (the discriminator, enum DataType: uri_file, uri_folder,
# mltable) and `dataUri` ("Uri of the data", pattern [a-zA-Z0-9_]) required; the containers
# (DataContainer) carry `dataType` too and list `latestVersion`/`nextVersion` as the others do.
DATA_TYPES = ("uri_file", "uri_folder", "mltable")
# What makes a version's content; changing it on an existing version is a 409 (Azure assets are
# immutable), while description/tags/properties/stage stay updatable. Source: the REST API spec
# (stable 2024-04-01, mfe.json) says of an asset's `properties`: "Properties can be added, but
# not removed or altered"; the 409 for changed content was not found stated by Microsoft in this
# form and follows what the SDK's own "register a new version" flow assumes: kept strict.
CONTENT = {
    "models": ("modelUri", "modelType"),
    "codes": ("codeUri",),
    "environments": ("image", "condaFile", "build", "inferenceConfig", "osType"),
    "data": ("dataUri", "dataType"),
}
# Asset names: the REST API spec (Microsoft.MachineLearningServices stable 2024-04-01, mfe.json,
# ModelVersions_CreateOrUpdate and the codes/environments twins) gives the `name` path parameter
# the pattern ^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$: no '.', a letter or digit first. The `version`
# parameter has no pattern there; the stand-in keeps letters, digits, '-', '_' and '.' for it.
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_order = itertools.count()

DATASTORE_PATH = re.compile(r"/datastores/([^/]+)/paths/(.+)$", re.IGNORECASE)
BLOB_URL = re.compile(rf"^https://[^/]+/{ACCOUNT}/([^/?]+)/?([^?]*)", re.IGNORECASE)


def resolve_blob(ctx: Context, uri: str) -> tuple[str, str]:
    """(container, blob path) of an asset URI: azureml://...datastores/D/paths/P or a blob URL."""
    match = DATASTORE_PATH.search(uri)
    if match:
        ws_id = ""
        if uri.startswith("azureml:"):
            ws_id = uri[len("azureml:/") :].split("/datastores/")[0]
        store = ctx.store.get(f"{ws_id}/datastores/{match.group(1)}") if ws_id else None
        container = store["properties"]["containerName"] if store else ctx.blob_container
        return container, match.group(2).rstrip("/")
    match = BLOB_URL.match(uri)
    if match:
        return match.group(1), match.group(2).rstrip("/")
    if re.match(rf"^https://{ACCOUNT}\.blob\.", uri, re.IGNORECASE):
        container, _, path = uri.split("/", 3)[3].partition("/")
        return container, path.split("?")[0].rstrip("/")
    raise bad_request(f"Unsupported asset URI '{uri}'.")


def _check_immutable(
    kind: str, name: str, version: str, props: dict[str, Any], before: dict[str, Any]
) -> None:
    """Azure's answer to a PUT that would change an existing version's content (409 UserError).

    A changed asset path is answered "Asset paths cannot be updated." (the service's text, which
    azure-ai-ml 1.35 matches as ASSET_PATH_ERROR in _artifacts/_constants.py). Of a model
    version only the description and tags may change (Azure AI Projects' model-version update:
    "Only description and tags can be modified."); a property's value is kept ("Value of property
    X for model Y cannot be replaced ... without increasing the version.", as Azure answered in
    Azure/azureml-assets#3439). Azure does not document the status; 409 is the conflict it is.
    """
    changed = [
        key for key in CONTENT[kind]
        if props.get(key) is not None and props.get(key) != before.get(key)
    ]
    if changed in (["modelUri"], ["codeUri"], ["dataUri"]):
        raise ApiError(409, "UserError", "Asset paths cannot be updated.")
    if changed:
        raise ApiError(
            409, "UserError",
            f"{KINDS[kind]} {name}:{version} already exists with different "
            f"{', '.join(changed)}; versions are immutable, register a new version.",
        )
    if kind == "models":
        old = before.get("properties") or {}
        for key, value in (props.get("properties") or {}).items():
            if key in old and old[key] != value:
                raise ApiError(
                    409, "UserError",
                    f"Value of property {key} for model {name} cannot be replaced to {value} "
                    "without increasing the version.",
                )


def _in_view(items: list[dict[str, Any]], query: Mapping[str, str]) -> list[dict[str, Any]]:
    """The containers or versions a list's `listViewType` asks for.

    The REST API spec (Microsoft.MachineLearningServices, mfe.json: ModelVersions_List,
    ModelContainers_List and the codes/environments twins) takes `listViewType` in the query,
    enum ListViewType: ActiveOnly, ArchivedOnly, All ("View type for including/excluding (for
    example) archived entities."); without it the service lists the active ones only, as the
    SDK's default (ListViewType.ACTIVE_ONLY in azure-ai-ml's ModelOperations.list) does. The
    parameter's name matches in any case (see Query); its value must be one of the members.
    """
    view = query.get("listViewType", "ActiveOnly")
    if view not in ("ActiveOnly", "ArchivedOnly", "All"):
        raise bad_request(f"listViewType: {view!r} is not ActiveOnly, ArchivedOnly or All")
    if view == "All":
        return list(items)
    archived = view == "ArchivedOnly"
    return [i for i in items if bool(i["properties"].get("isArchived")) == archived]


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (-1, version)


def _mlflow_flavors(ctx: Context, model_uri: str) -> dict[str, Any]:
    # The service reads the uploaded MLmodel file (the SDK does not send flavors).
    container, path = resolve_blob(ctx, model_uri)
    candidates = [n for n in ctx.azurite.list(container, path) if n.rsplit("/", 1)[-1] == "MLmodel"]
    if not candidates:
        raise bad_request(f"No MLmodel file found under '{model_uri}' for an mlflow_model.")
    mlmodel = yaml.safe_load(ctx.azurite.read(container, min(candidates, key=len)))
    flavors = {}
    for name, data in (mlmodel.get("flavors") or {}).items():
        flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (data or {}).items()}
        flavors[name] = {"data": flat}
    return flavors


def add_routes(router: Router, ctx: Context) -> None:
    def container_id(request: Request, kind: str) -> str:
        return f"{ctx.workspace(request)['id']}/{kind}/{request.params['name']}"

    def versions_of(cid: str) -> list[dict[str, Any]]:
        return ctx.store.children(cid, "versions")

    def container_view(body: dict[str, Any]) -> dict[str, Any]:
        body = public(body)
        versions = versions_of(body["id"])
        numeric = [int(v["name"]) for v in versions if v["name"].isdigit()]
        latest = max(versions, key=lambda v: v[PRIVATE]["order"], default=None)
        body["properties"]["latestVersion"] = latest["name"] if latest else None
        body["properties"]["nextVersion"] = str(max(numeric, default=0) + 1)
        return body

    def list_containers(kind: str):
        def handler(request: Request) -> Response:
            ws = ctx.workspace(request)
            containers = _in_view(ctx.store.children(ws["id"], kind), request.query)
            items = [container_view(c) for c in containers]
            return Response(200, {"value": items})

        return handler

    def get_container(kind: str):
        def handler(request: Request) -> Response:
            cid = container_id(request, kind)
            body = get_or_404(ctx, cid, f"{KINDS[kind]} container", request.params["name"])
            return Response(200, container_view(body))

        return handler

    def list_versions(kind: str):
        def handler(request: Request) -> Response:
            cid = container_id(request, kind)
            items = versions_of(cid)
            q = request.query
            items = _in_view(items, q)
            if "hash" in q:
                items = [v for v in items if v[PRIVATE].get("hash") == q["hash"]]
            if "version" in q:
                items = [v for v in items if v["name"] == q["version"]]
            order = q.get("$orderBy", "").lower()
            if order.startswith("createdtime"):
                items.sort(key=lambda v: v[PRIVATE]["order"], reverse=order.endswith("desc"))
            elif order.startswith("version"):
                items.sort(key=lambda v: _version_key(v["name"]), reverse=order.endswith("desc"))
            if "$top" in q:
                try:
                    items = items[: int(q["$top"])]
                except ValueError as exc:
                    raise bad_request("$top must be an integer") from exc
            return Response(200, {"value": [public(v) for v in items]})

        return handler

    def get_version(kind: str):
        def handler(request: Request) -> Response:
            cid = container_id(request, kind)
            name, version = request.params["name"], request.params["version"]
            body = get_or_404(ctx, f"{cid}/versions/{version}", KINDS[kind], f"{name}:{version}")
            return Response(200, public(body))

        return handler

    def validate(kind: str, props: dict[str, Any]) -> None:
        check_string_map({"p": props}, "p.tags", "properties.tags")
        check_string_map({"p": props}, "p.properties", "properties.properties")
        field_of(props, "description", str, required=False)
        field_of(props, "isAnonymous", bool, required=False)
        if kind == "models":
            field_of(props, "modelUri", str)
            field_of(props, "modelType", str, required=False)
            field_of(props, "flavors", dict, required=False)
        elif kind == "codes":
            field_of(props, "codeUri", str)
        elif kind == "data":
            data_type = field_of(props, "dataType", str)
            if data_type not in DATA_TYPES:
                raise bad_request(f"'properties.dataType' must be one of "
                                  f"{', '.join(DATA_TYPES)}; it is '{data_type}'.")
            if not re.search(r"[a-zA-Z0-9_]", field_of(props, "dataUri", str)):
                raise bad_request("'properties.dataUri' must be a URI.")
        else:
            image = field_of(props, "image", str, required=False)
            build = field_of(props, "build", dict, required=False)
            field_of(props, "condaFile", str, required=False)
            if not image and not build:
                raise bad_request("An environment needs an image or a build context.")

    def put_version(kind: str):
        def handler(request: Request) -> Response:
            ws = ctx.workspace(request)
            name, version = request.params["name"], request.params["version"]
            if not _NAME.match(name) or not _VERSION.match(version):
                raise bad_request(f"Invalid {KINDS[kind].lower()} name or version.")
            body = request.json_object()
            props = properties_of(body)
            validate(kind, props)
            # Reading the version and writing it is one step: concurrent PUTs of one version
            # get one 201 and a 200 or 409 each after it (as Azure answers a PUT of an
            # existing version, _check_immutable), never two 201s with the last one kept.
            with ctx.store.lock:
                return store_version(kind, ws, name, version, props, request)

        return handler

    def store_version(
        kind: str, ws: dict[str, Any], name: str, version: str, props: dict[str, Any],
        request: Request,
    ) -> Response:
        cid = f"{ws['id']}/{kind}/{name}"
        container = ctx.store.get(cid)
        if container is None:
            container = {
                "id": cid,
                "name": name,
                "type": f"Microsoft.MachineLearningServices/workspaces/{kind}",
                "properties": {"isArchived": False, "description": None, "tags": {},
                               "properties": {}},
                "systemData": system_data(None, caller(request)),
            }
            if kind == "data":
                container["properties"]["dataType"] = props["dataType"]
            ctx.store.put(container)
        vid = f"{container['id']}/versions/{version}"
        previous = ctx.store.get(vid)
        if previous is not None:
            _check_immutable(kind, name, version, props, previous["properties"])
        props = dict(props)
        if kind == "models":
            props.setdefault("modelType", "custom_model")
            if props["modelType"] == "mlflow_model" and not props.get("flavors"):
                props["flavors"] = (
                    previous["properties"]["flavors"]
                    if previous
                    else _mlflow_flavors(ctx, props["modelUri"])
                )
            props.setdefault("flavors", {})  # the SDK iterates over it unconditionally
        props.update(provisioningState="Succeeded", isArchived=props.get("isArchived", False))
        props.setdefault("tags", {})
        props.setdefault("properties", {})
        private = previous[PRIVATE] if previous else {"order": next(_order) + _epoch()}
        # The SDK's content hash (code lookups by ?hash= find an existing upload).
        hash_value = (props.get("properties") or {}).get("hash_sha256")
        if hash_value:
            private["hash"] = hash_value
        record = {
            "id": vid if previous is None else previous["id"],
            "name": version,
            "type": f"Microsoft.MachineLearningServices/workspaces/{kind}/versions",
            "properties": props,
            "systemData": system_data(previous, caller(request)),
            PRIVATE: private,
        }
        ctx.store.put(record)
        return Response(200 if previous else 201, public(record))

    def delete_version(kind: str):
        def handler(request: Request) -> Response:
            cid = container_id(request, kind)
            vid = f"{cid}/versions/{request.params['version']}"
            if ctx.store.get(vid) is None:
                return Response(204)
            ctx.store.delete(vid)
            return Response(200)

        return handler

    def start_pending_upload(request: Request) -> Response:
        ctx.workspace(request)
        body = request.json_object()
        upload_type = body.get("pendingUploadType", "TemporaryBlobReference")
        if upload_type != "TemporaryBlobReference":
            raise bad_request(f"pendingUploadType '{upload_type}' is not supported.")
        # A fresh container per upload (as Azure's temporary blob reference), so an upload for
        # an existing immutable version can never overwrite that version's files.
        upload_id = body.get("pendingUploadId") or uuid.uuid4().hex
        container = f"upload-{uuid.uuid4().hex}"
        ctx.azurite.ensure_container(container)
        sas_uri = ctx.azurite.container_sas_uri(container)
        return Response(
            200,
            {
                "pendingUploadId": upload_id,
                "pendingUploadType": "TemporaryBlobReference",
                "blobReferenceForConsumption": {
                    "blobUri": f"{ctx.azurite.url}/{container}",
                    "storageAccountArmId": ws_storage(request),
                    "credential": {"credentialType": "SAS", "sasUri": sas_uri},
                },
            },
        )

    def ws_storage(request: Request) -> str:
        return ctx.workspace(request)["properties"]["storageAccount"]

    for kind in KINDS:
        base = f"{WS}/{kind}"
        router.add("GET", base, list_containers(kind))
        router.add("GET", base + "/{name}", get_container(kind))
        router.add("GET", base + "/{name}/versions", list_versions(kind))
        router.add("GET", base + "/{name}/versions/{version}", get_version(kind))
        router.add("PUT", base + "/{name}/versions/{version}", put_version(kind))
        router.add("DELETE", base + "/{name}/versions/{version}", delete_version(kind))
        router.add("POST", base + "/{name}/versions/{version}/startPendingUpload",
                   start_pending_upload)


def creation_order() -> int:
    """A new version's place in creation order (what $orderBy=createdtime sorts by)."""
    return next(_order) + _epoch()


def _epoch() -> int:
    # Creation order that survives restarts: time-based, with the counter breaking ties.
    import time

    return int(time.time() * 1000) * 1000
