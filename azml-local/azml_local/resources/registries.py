r"""Azure ML registries: discovery, the registry resource, its assets and its own blob storage.

How azure-ai-ml 1.35 reaches a registry (the path an unchanged ``MLClient(registry_name=...)``
takes, followed here):

- The discovery address: ``_azure_environments._get_registry_discovery_url`` takes
  REGISTRY_DISCOVERY_ENDPOINT_URL for a cloud it does not know (ours, from
  ARM_CLOUD_METADATA_URL); local mode exports it (app.Service.env).
- ``GET /registrymanagement/v1.0/registries/{name}/discovery`` (registry_discovery client,
  operations/_operations.py) answers RegistryDiscoveryDto: registryName, tenantId,
  primaryRegion, regions, subscriptionId, resourceGroup, primaryRegionResourceProviderUri;
  ``_utils/_registry_utils.RegistryDiscovery`` then talks to
  ``<primaryRegionResourceProviderUri>mferp/managementfrontend`` with api-version
  2021-10-01-dataplanepreview: ``.../registries/{r}/{models|environments|codes|data}/{name}
  [/versions/{v}]`` (GET, PUT as an LRO), ``PUT .../tempdatarefs/{name}/versions/{v}`` (a SAS
  into the registry's storage for an upload; 409 when the asset exists, which the SDK skips),
  ``POST .../datarefs/{name}/versions/{v}`` (a SAS to read an asset's blobs) and
  ``POST .../registries/{r}/import`` (ModelOperations.share: copy a workspace asset).
- The ARM form of the same resources (REST API spec, Microsoft.MachineLearningServices stable
  2024-04-01: registries.json for the registry, mfe.json for RegistryModelVersions_* and the
  environment/code/data twins) is served too, at management-plane paths.

A registry's name follows the spec's RegistryNameParameter: ``^[a-zA-Z0-9][a-zA-Z0-9\-_]{2,32}$``,
case-insensitive. Its assets live in the store as ``azureml://registries/<name>/...`` (the id
Azure gives them) and its blobs in a container of their own, never a workspace's.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from azml_local.infra.azurite import ACCOUNT
from azml_local.infra.lro import LroFailure, now_iso
from azml_local.infra.state import public
from azml_local.infra.web import ApiError, Request, Response, Router, bad_request
from azml_local.resources import assets
from azml_local.resources.context import (
    LOCATION,
    PROVIDER,
    REGISTRY,
    REGISTRY_RESOURCE_GROUP,
    Context,
    caller,
    system_data,
)

NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{2,32}$")  # registries.json RegistryNameParameter
REG = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices" \
      "/registries/{registry}"
MFE = "/mferp/managementfrontend"  # _registry_utils.MFE_PATH_PREFIX


def registry_id(ctx: Context, name: str = REGISTRY) -> str:
    return REG.format(sub=ctx.identity.subscription_id, rg=REGISTRY_RESOURCE_GROUP, registry=name)


def container_prefix(name: str) -> str:
    # The registry's own storage (Azure gives a registry storage accounts of its own per region,
    # learn.microsoft.com "Manage Azure Machine Learning registries"): containers on the one
    # Azurite account whose names start with this, one per asset version (the SDK takes the
    # SAS it is given as a container URL: azure-storage-blob ContainerClient.from_container_url
    # reads the last path segment as the container).
    return "r" + str(uuid.uuid5(uuid.NAMESPACE_URL, name.lower())).replace("-", "")[:8]


def new_container(ctx: Context, registry: str) -> str:
    container = f"{container_prefix(registry)}-{uuid.uuid4().hex}"
    ctx.azurite.ensure_container(container)
    return container


def seed(ctx: Context) -> None:
    rid = registry_id(ctx)
    if ctx.store.get(rid) is None:
        ctx.store.put({
            "id": rid, "name": REGISTRY, "location": LOCATION, "tags": {},
            "type": f"{PROVIDER}/registries", "kind": "Default",
            "identity": {"type": "SystemAssigned"},
            "systemData": {"createdAt": now_iso(), "createdBy": "standin"},
            "properties": {
                "regionDetails": [{"location": LOCATION, "acrDetails": [],
                                   "storageAccountDetails": []}],
                "publicNetworkAccess": "Enabled", "intellectualPropertyPublisher": None,
                "managedResourceGroup": {"resourceId": None}, "provisioningState": "Succeeded",
            },
        })


def find(ctx: Context, name: str) -> dict[str, Any] | None:
    """The registry called `name` (names are global and case-insensitive), or None."""
    return next((r for r in ctx.store.all() if r.get("type") == f"{PROVIDER}/registries"
                 and r["name"].lower() == name.lower()), None)


def _named(ctx: Context, name: str) -> dict[str, Any]:
    if not NAME.match(name):
        raise bad_request(f"Registry name '{name}' is invalid: 3-33 characters, letters, digits, "
                          "'-' and '_', starting with a letter or digit.")
    found = find(ctx, name)
    if found is None:
        raise ApiError(404, "ResourceNotFound",
                       f"The Resource '{PROVIDER}/registries/{name}' was not found.")
    return found


def _in_scope(ctx: Context, request: Request) -> str:
    # The registry the path names, under the subscription and group it lives in (404 else).
    p = request.params
    found = _named(ctx, p["registry"])
    expected = REG.format(sub=p["sub"], rg=p["rg"], registry=p["registry"]).lower()
    if found["id"].lower() != expected:
        raise ApiError(404, "ResourceNotFound", f"The Resource '{PROVIDER}/registries/"
                       f"{p['registry']}' under resource group '{p['rg']}' was not found.")
    return f"azureml://registries/{found['name']}"


def _blob_reference(ctx: Context, registry: str, container: str) -> dict[str, Any]:
    # A SAS for one of the registry's containers, as Azure's temporary data reference:
    # blobReferenceForConsumption {blobUri, storageAccountArmId, credential}. Host-style account
    # URLs, as Azure Storage's (https://<account>.blob.<suffix>/<container>): the SDK parses a
    # registry asset's path with them (_artifacts/_constants.STORAGE_URI_REGEX: the container is
    # the first path segment); the proxy relays *.blob.core.localhost to Azurite.
    query = ctx.azurite.container_sas_uri(container).split("?", 1)[1]
    base = f"{account_url(ctx)}/{container}"
    return {
        "blobUri": base,
        "storageAccountArmId": f"{registry_id(ctx, registry)}/storage",
        "credential": {"credentialType": "SAS", "sasUri": f"{base}?{query}"},
    }


def account_url(ctx: Context) -> str:
    return f"https://{ACCOUNT}.blob.core.localhost:{ctx.azurite.port}"


def add_routes(router: Router, ctx: Context) -> None:
    def discovery(request: Request) -> Response:
        found = _named(ctx, request.params["registry"])
        parts = found["id"].split("/")
        return Response(200, {
            "registryName": found["name"], "tenantId": ctx.identity.tenant_id,
            "primaryRegion": found["location"], "regions": [found["location"]],
            "subscriptionId": parts[2], "resourceGroup": parts[4],
            "primaryRegionResourceProviderUri": ctx.base_url + "/",
            "registryFqdns": {found["location"]: {"api": ctx.base_url}},
        })

    def get_registry(request: Request) -> Response:
        _in_scope(ctx, request)
        return Response(200, public(_named(ctx, request.params["registry"])))

    def temp_data_ref(request: Request) -> Response:
        parent = _in_scope(ctx, request)
        body = request.json_object()
        asset_id = str(body.get("assetId") or "")
        match = re.fullmatch(r"azureml://registries/[^/]+/(\w+)/[^/]+/versions/[^/]+", asset_id)
        kind = match.group(1) if match else ""
        if kind not in assets.KINDS:
            raise bad_request("'assetId' must be azureml://registries/<r>/<kind>/<n>/versions/<v>.")
        p = request.params
        if ctx.store.get(f"{parent}/{kind}/{p['name']}/versions/{p['version']}") is not None:
            # The SDK skips the upload on this 409 ("Asset already exists",
            # _registry_utils.get_sas_uri_for_registry_asset).
            raise ApiError(409, "UserError", f"Asset {asset_id} already exists.")
        registry = request.params["registry"]
        return Response(200, {"blobReferenceForConsumption": _blob_reference(
            ctx, registry, new_container(ctx, registry))})

    def data_ref(request: Request) -> Response:
        parent = _in_scope(ctx, request)
        body = request.json_object()
        asset_id = str(body.get("assetId") or "")
        if not asset_id.lower().startswith(parent.lower() + "/"):
            raise bad_request("'assetId' must name an asset of this registry.")
        # A read SAS for the container holding the asset's blobs (the SDK's download lists
        # under the asset's path in it: ModelOperations.download).
        blob_uri = str(body.get("blobUri") or "")
        container = blob_uri.split("://", 1)[-1].split("/")[1] if "/" in blob_uri else ""
        registry = request.params["registry"]
        if not container.startswith(container_prefix(registry) + "-"):
            raise bad_request("'blobUri' is not in this registry's storage.")
        reference = _blob_reference(ctx, registry, container)
        reference["blobUri"] = blob_uri
        return Response(200, {"blobReferenceForConsumption": reference})

    def start_pending_upload(request: Request) -> Response:
        _in_scope(ctx, request)
        registry = request.params["registry"]
        reference = _blob_reference(ctx, registry, new_container(ctx, registry))
        return Response(200, {"pendingUploadId": uuid.uuid4().hex,
                              "pendingUploadType": "TemporaryBlobReference",
                              "blobReferenceForConsumption": reference})

    def import_asset(request: Request) -> Response:
        parent = _in_scope(ctx, request)
        props = (request.json_object().get("properties") or {})
        source = str(props.get("sourceAssetId") or "")
        match = re.fullmatch(r"azureml://locations/[^/]+/workspaces/([^/]+)/(models|environments)"
                             r"/([^/]+)/versions/([^/]+)", source)
        if props.get("referenceType") != "Id" or not match:
            raise bad_request("'properties.sourceAssetId' must be a workspace asset id "
                              "azureml://locations/<l>/workspaces/<guid>/models/<n>/versions/<v>.")
        guid, kind, name, version = match.groups()
        target = (props.get("destinationName") or name, props.get("destinationVersion") or version)
        body = _workspace_asset(ctx, guid, kind, name, version)
        rid = f"{parent}/{kind}/{target[0]}/versions/{target[1]}"
        if ctx.store.get(rid) is not None:
            raise ApiError(409, "UserError", f"Asset {rid} already exists.")

        def work() -> None:
            _copy_into(ctx, request, parent, kind, target, body)

        def failed(error: LroFailure) -> None:
            pass

        headers = ctx.ops.start(request, rid, work, failed)
        return Response(202, None, headers)

    for base in (REG, MFE + REG):
        assets.add_routes(router, ctx, base, lambda r: _in_scope(ctx, r), "registries")
        router.add("GET", base, get_registry)
        router.add("PUT", base + "/tempdatarefs/{name}/versions/{version}", temp_data_ref)
        router.add("POST", base + "/datarefs/{name}/versions/{version}", data_ref)
        router.add("POST", base + "/import", import_asset)
        for kind in assets.KINDS:
            router.add("POST", base + f"/{kind}/{{name}}/versions/{{version}}/startPendingUpload",
                       start_pending_upload)
    router.add("GET", "/registrymanagement/v1.0/registries/{registry}/discovery", discovery)


def _workspace_asset(ctx: Context, guid: str, kind: str, name: str, version: str) -> dict:
    for ws in ctx.store.all():
        if ws.get("type") == f"{PROVIDER}/workspaces" and \
                ws["properties"].get("workspaceId") == guid:
            found = ctx.store.get(f"{ws['id']}/{kind}/{name}/versions/{version}")
            if found is not None:
                return found
    raise ApiError(404, "ResourceNotFound", f"{assets.KINDS[kind]} {name}:{version} could not "
                   f"be found in workspace {guid}.")


def _copy_into(ctx: Context, request: Request, parent: str, kind: str, target: tuple,
               source: dict[str, Any]) -> None:
    # The import: the source's blobs copied into the registry's storage, then the version.
    props = {k: v for k, v in source["properties"].items()
             if k not in ("provisioningState",)}
    if kind == "models":
        container, path = assets.resolve_blob(ctx, props["modelUri"])
        target_container = new_container(ctx, parent.split("/")[-1])
        top = path.rsplit("/", 1)[-1]  # the registered file or folder keeps its name
        client = ctx.azurite.client()
        for blob in ctx.azurite.list(container, path):
            if blob != path and not blob.startswith(path + "/"):
                continue
            data = ctx.azurite.read(container, blob)
            client.get_blob_client(target_container, top + blob[len(path):]).upload_blob(
                data, overwrite=True)
        props["modelUri"] = f"{account_url(ctx)}/{target_container}/{top}"
    rid = f"{parent}/{kind}/{target[0]}/versions/{target[1]}"
    cid = rid.rsplit("/versions/", 1)[0]
    with ctx.store.lock:
        if ctx.store.get(cid) is None:
            ctx.store.put({"id": cid, "name": target[0],
                           "type": f"{PROVIDER}/registries/{kind}",
                           "properties": {"isArchived": False, "description": None, "tags": {},
                                          "properties": {}},
                           "systemData": system_data(None, caller(request))})
        ctx.store.put({"id": rid, "name": target[1],
                       "type": f"{PROVIDER}/registries/{kind}/versions",
                       "properties": props, "systemData": system_data(None, caller(request)),
                       assets.PRIVATE: dict(source.get(assets.PRIVATE) or {})})
