"""Compute: the workspace's one pre-created cluster (AmlCompute), read-only.

Batch deployments run on a named compute cluster; the stand-in cannot create clusters, so the
workspace comes with one (COMPUTE_NAME, as in Azure/azureml-examples' `cpu-cluster`) and a batch
deployment naming any other compute fails as in Azure (batch.py).
"""

from __future__ import annotations

from typing import Any

from azml_local.infra.lro import now_iso
from azml_local.resources.context import LOCATION, Context

COMPUTE_NAME = "cpu-cluster"
# What one "node" of the cluster runs at once is a local process; instance_count beyond this
# is refused as a cluster with maxNodeCount would refuse it.
MAX_NODES = 4


def compute_id(workspace_id: str, name: str = COMPUTE_NAME) -> str:
    return f"{workspace_id}/computes/{name}"


def seed(ctx: Context, workspace_id: str) -> None:
    """Pre-create the cluster (idempotent across restarts)."""
    rid = compute_id(workspace_id)
    if ctx.store.get(rid) is not None:
        return
    ctx.store.put({
        "id": rid,
        "name": COMPUTE_NAME,
        "type": "Microsoft.MachineLearningServices/workspaces/computes",
        "location": LOCATION,
        "tags": {},
        "systemData": {"createdAt": now_iso(), "createdBy": "standin"},
        "properties": {
            "computeType": "AmlCompute",
            "computeLocation": LOCATION,
            "provisioningState": "Succeeded",
            "description": "Pre-created cluster of the local stand-in",
            "createdOn": now_iso(),
            "modifiedOn": now_iso(),
            "isAttachedCompute": False,
            "disableLocalAuth": True,
            "properties": {
                "osType": "Linux",
                "vmSize": "STANDARD_DS3_V2",
                "vmPriority": "Dedicated",
                "scaleSettings": {"maxNodeCount": MAX_NODES, "minNodeCount": 0,
                                  "nodeIdleTimeBeforeScaleDown": "PT120S"},
                "remoteLoginPortPublicAccess": "Disabled",
                "allocationState": "Steady",
                "currentNodeCount": 0,
                "targetNodeCount": 0,
                "enableNodePublicIp": True,
            },
        },
    })


def find(ctx: Context, workspace_id: str, reference: str) -> dict[str, Any] | None:
    """The compute a deployment names: its ARM id, `azureml:NAME` or NAME (case-insensitive)."""
    name = reference.strip()
    if name.lower().startswith("/subscriptions/"):
        body = ctx.store.get(name)
        return body if body and body["id"].lower().startswith(workspace_id.lower() + "/") else None
    if name.lower().startswith("azureml:"):
        name = name[len("azureml:"):]
    return ctx.store.get(compute_id(workspace_id, name)) if name and "/" not in name else None
