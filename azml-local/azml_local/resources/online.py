"""Shared by online endpoints and deployments: routes, names, state changes, scoring keys."""

from __future__ import annotations

import re
from typing import Any

from azml_local.infra.state import PRIVATE
from azml_local.infra.web import ApiError, Request
from azml_local.resources.context import WS, Context, get_or_404

# Any new operation on an online endpoint (or deployment) while one is running is refused:
# "When an operation is already in progress, any new operation on that same online endpoint
# responds with 409 conflict error. For example, If create or update online endpoint operation is
# in progress and if you trigger a new Delete operation it throws an error." (Azure ML docs,
# how-to-troubleshoot-online-endpoints, HTTP status codes). The wording of the message is
# Azure ML's for an operation on a busy entity (as quoted in Azure/azure-cli#17075).
# batch.py refuses writes to busy batch resources with it too (ARM's rule, cited there).
BUSY = ("Creating", "Updating", "Deleting", "Scaling")


def refuse_if_busy(body: dict[str, Any] | None, workspace: str) -> None:
    if body is not None and body["properties"].get("provisioningState") in BUSY:
        raise ApiError(
            409,
            "Conflict",
            "Conflict of operation, another operation on same entity is already running in "
            f"workspace {workspace}.",
        )

EP = WS + "/onlineEndpoints/{endpoint}"
DEP = EP + "/deployments/{deployment}"
# Online endpoint and deployment names: "at least 3 and at most 32 characters", "start with an
# upper- or lowercase letter and only consist of '-'s and alphanumeric characters", ending with a
# letter or digit (Microsoft's azure-ai-ml 1.35, entities/_endpoint/_endpoint_helpers.py,
# validate_endpoint_or_deployment_name, pattern ^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$). The REST
# API spec's path pattern (^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$) is looser; the service applies the
# documented rule, so the stand-in does too.
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]$")


def endpoint_id(ctx: Context, request: Request) -> str:
    return f"{ctx.workspace(request)['id']}/onlineEndpoints/{request.params['endpoint']}"


def endpoint_body(ctx: Context, request: Request) -> dict[str, Any]:
    name = request.params["endpoint"]
    return get_or_404(ctx, endpoint_id(ctx, request), "Online endpoint", name)


def set_state(ctx: Context, rid: str, state: str) -> None:
    with ctx.store.lock:
        body = ctx.store.get(rid)
        if body is not None:
            body["properties"]["provisioningState"] = state
            ctx.store.put(body)


def serving_key(deployment: dict[str, Any]) -> str:
    # One scoring process per deployment generation: an update starts the new one and stops the
    # old one only once the new one answers (as Azure keeps serving during an update).
    parts = deployment["id"].lower().split("/")
    return f"{parts[-3]}/{parts[-1]}/{deployment[PRIVATE]['generation']}"


def stop_serving(ctx: Context, deployment: dict[str, Any]) -> None:
    if ctx.serving is not None:
        for key in {deployment[PRIVATE].get("serving_key"), serving_key(deployment)} - {None}:
            ctx.serving.stop(key)
