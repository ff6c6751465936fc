"""Workspaces (one pre-created) and datastores (workspaceblobstore on Azurite)."""

from __future__ import annotations

from typing import Any

from azml_local.infra.azurite import ACCOUNT, ACCOUNT_KEY
from azml_local.infra.lro import now_iso
from azml_local.infra.state import public
from azml_local.infra.web import Request, Response, Router
from azml_local.resources.context import (
    LOCATION,
    RESOURCE_GROUP,
    WORKSPACE,
    WS,
    Context,
    get_or_404,
)
from azml_local.tracking.routes import tracking_uri

BLOBSTORE = "workspaceblobstore"


def workspace_id(ctx: Context) -> str:
    return WS.format(sub=ctx.identity.subscription_id, rg=RESOURCE_GROUP, ws=WORKSPACE)


def seed(ctx: Context) -> None:
    """Pre-create the workspaces and their default datastores (idempotent across restarts).

    Each workspace has its own blob container (`azureml-blobstore-<workspace GUID>`, the name
    Azure gives a workspace's default container) on the one Azurite account.
    """
    for sub, group, name in ctx.workspaces():
        _seed_one(ctx, sub, group, name)


def _seed_one(ctx: Context, sub: str, group: str, name: str) -> None:
    wid = WS.format(sub=sub, rg=group, ws=name)
    guid = ctx.guid_of(sub, name)
    container = "azureml-blobstore-" + guid
    ctx.azurite.ensure_container(container)
    if ctx.store.get(wid) is None:
        arm = f"/subscriptions/{sub}/resourceGroups/{group}/providers"
        ctx.store.put(
            {
                "id": wid,
                "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces",
                "location": LOCATION,
                "kind": "Default",
                "identity": {"type": "SystemAssigned"},
                "sku": {"name": "Basic", "tier": "Basic"},
                "tags": {},
                "systemData": {"createdAt": now_iso(), "createdBy": "standin"},
                "properties": {
                    "workspaceId": guid,
                    "friendlyName": name,
                    "description": "Local Azure ML stand-in workspace",
                    "provisioningState": "Succeeded",
                    "storageAccount": f"{arm}/Microsoft.Storage/storageAccounts/{ACCOUNT}",
                    "keyVault": f"{arm}/Microsoft.KeyVault/vaults/standinkv",
                    "applicationInsights": f"{arm}/microsoft.insights/components/standinai",
                    "containerRegistry": f"{arm}/Microsoft.ContainerRegistry/registries/standinacr",
                    "tenantId": ctx.identity.tenant_id,
                    "publicNetworkAccess": "Enabled",
                    "v1LegacyMode": False,
                    "hbiWorkspace": False,
                },
            }
        )
    if ctx.store.get(f"{wid}/datastores/{BLOBSTORE}") is None:
        ctx.store.put(
            {
                "id": f"{wid}/datastores/{BLOBSTORE}",
                "name": BLOBSTORE,
                "type": "Microsoft.MachineLearningServices/workspaces/datastores",
                "systemData": {"createdAt": now_iso(), "createdBy": "standin"},
                "properties": {
                    "datastoreType": "AzureBlob",
                    "isDefault": True,
                    "accountName": ACCOUNT,
                    "containerName": container,
                    "protocol": "https",
                    "serviceDataAccessAuthIdentity": "None",
                    "subscriptionId": sub,
                    "resourceGroup": group,
                    "credentials": {"credentialsType": "AccountKey"},
                    "description": "Workspace blob store (Azurite)",
                    "properties": {},
                    "tags": {},
                },
            }
        )


def _workspace_view(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    # Addresses depend on this run's ports, so they are computed on read.
    body = public(body)
    body["properties"]["discoveryUrl"] = f"{ctx.base_url}/discovery"
    body["properties"]["mlFlowTrackingUri"] = tracking_uri(ctx, body["id"])
    return body


def _datastore_view(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    body = public(body)
    # The SDK builds https://{account}.blob.{suffix}; Azurite's suffix is `core.localhost:PORT`.
    body["properties"]["endpoint"] = f"core.localhost:{ctx.azurite.port}"
    return body


def add_routes(router: Router, ctx: Context) -> None:
    def get_workspace(request: Request) -> Response:
        return Response(200, _workspace_view(ctx, ctx.workspace(request)))

    def list_datastores(request: Request) -> Response:
        ws = ctx.workspace(request)
        items = [_datastore_view(ctx, d) for d in ctx.store.children(ws["id"], "datastores")]
        if request.query.get("isDefault", "").lower() == "true":
            items = [d for d in items if d["properties"].get("isDefault")]
        return Response(200, {"value": items})

    def get_datastore(request: Request) -> Response:
        ws = ctx.workspace(request)
        name = request.params["name"]
        body = get_or_404(ctx, f"{ws['id']}/datastores/{name}", "Datastore", name)
        return Response(200, _datastore_view(ctx, body))

    def list_secrets(request: Request) -> Response:
        ws = ctx.workspace(request)
        name = request.params["name"]
        get_or_404(ctx, f"{ws['id']}/datastores/{name}", "Datastore", name)
        return Response(200, {"secretsType": "AccountKey", "key": ACCOUNT_KEY})

    def discovery(request: Request) -> Response:
        return Response(200, {"api": ctx.base_url, "catalog": ctx.base_url,
                              "experimentation": ctx.base_url, "history": ctx.base_url,
                              "modelmanagement": ctx.base_url, "pipelines": ctx.base_url,
                              "studio": ctx.base_url})

    router.add("GET", WS, get_workspace)
    router.add("GET", WS + "/datastores", list_datastores)
    router.add("GET", WS + "/datastores/{name}", get_datastore)
    router.add("POST", WS + "/datastores/{name}/listSecrets", list_secrets)
    router.add("GET", "/discovery", discovery)
