"""Attached Kubernetes computes: the workspace has one cluster, with its instance types.

Shapes from Microsoft's REST API spec (stable 2024-04-01, examples/Compute/get/
KubernetesCompute.json: computeType Kubernetes, isAttachedCompute, properties.namespace,
defaultInstanceType, instanceTypes with Kubernetes resource requests/limits) and the article
"Create and manage instance types" (learn.microsoft.com, how-to-manage-kubernetes-instance-types):
attaching a cluster creates the instance type `defaultinstancetype` (requests cpu 100m, memory
2Gi; limits cpu 2, memory 2Gi), and a deployment that names no instance type gets the default.
"""

from __future__ import annotations

from typing import Any

from azml_local.infra.lro import now_iso
from azml_local.infra.state import public
from azml_local.infra.web import Request, Response, Router, bad_request
from azml_local.resources.context import LOCATION, WS, Context, get_or_404

CLUSTER = "aks-cluster"
DEFAULT_INSTANCE_TYPE = "defaultinstancetype"
INSTANCE_TYPES = {
    DEFAULT_INSTANCE_TYPE: {
        "nodeSelector": None,
        "resources": {
            "requests": {"cpu": "100m", "memory": "2Gi", "nvidia.com/gpu": None},
            "limits": {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": None},
        },
    },
    "cpu-large": {
        "nodeSelector": {"agentpool": "cpularge"},
        "resources": {
            "requests": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": None},
            "limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": None},
        },
    },
}


def seed(ctx: Context, workspace_id: str) -> None:
    """The attached cluster (idempotent across restarts)."""
    rid = f"{workspace_id}/computes/{CLUSTER}"
    if ctx.store.get(rid) is not None:
        return
    sub = ctx.identity.subscription_id
    ctx.store.put({
        "id": rid,
        "name": CLUSTER,
        "type": "Microsoft.MachineLearningServices/workspaces/computes",
        "location": LOCATION,
        "tags": {},
        "systemData": {"createdAt": now_iso(), "createdBy": "standin"},
        "properties": {
            "createdOn": now_iso(),
            "modifiedOn": now_iso(),
            "description": "AKS cluster with the Azure ML extension (stand-in)",
            "resourceId": f"/subscriptions/{sub}/resourceGroups/azml-standin-rg/providers/"
                          f"Microsoft.ContainerService/managedClusters/{CLUSTER}",
            "computeType": "Kubernetes",
            "computeLocation": LOCATION,
            "provisioningState": "Succeeded",
            "isAttachedCompute": True,
            "disableLocalAuth": True,
            "properties": {
                "namespace": "azureml",
                "defaultInstanceType": DEFAULT_INSTANCE_TYPE,
                "instanceTypes": INSTANCE_TYPES,
                "extensionInstanceReleaseTrain": "stable",
            },
        },
    })


def kubernetes_compute(ctx: Context, workspace_id: str, compute_id: str) -> dict[str, Any]:
    """The attached Kubernetes compute an endpoint's `compute` (an ARM id) names, or a 400.

    The online endpoint YAML reference (learn.microsoft.com, reference-yaml-endpoint-online):
    `compute` is the compute target to run the deployments on, which "must have type:
    kubernetes"; the SDK sends it as the compute's ARM id.
    """
    prefix = f"{workspace_id}/computes/".lower()
    name = compute_id.rsplit("/", 1)[-1]
    body = ctx.store.get(compute_id) if compute_id.lower().startswith(prefix) else None
    if body is None:
        raise bad_request(f"Compute '{name}' was not found in this workspace; an online "
                          "endpoint's compute must be an attached Kubernetes compute.")
    if body["properties"]["computeType"] != "Kubernetes":
        raise bad_request(f"Compute '{name}' is of type {body['properties']['computeType']}; "
                          "online endpoints run on Kubernetes computes only.")
    return body


def add_routes(router: Router, ctx: Context) -> None:
    def list_computes(request: Request) -> Response:
        ws = ctx.workspace(request)
        return Response(200, {"value": [public(c) for c in
                                        ctx.store.children(ws["id"], "computes")]})

    def get_compute(request: Request) -> Response:
        ws = ctx.workspace(request)
        name = request.params["compute"]
        body = get_or_404(ctx, f"{ws['id']}/computes/{name}", "Compute", name)
        return Response(200, public(body))

    router.add("GET", WS + "/computes", list_computes)
    router.add("GET", WS + "/computes/{compute}", get_compute)
