"""Managed identities of online endpoints, as the REST API spec's ManagedServiceIdentity has them.

An endpoint PUT's `identity` (machinelearningservices stable/2024-04-01 mfe.json,
ManagedServiceIdentity from common-types v3 managedidentity.json): `type` one of None,
SystemAssigned, UserAssigned, "SystemAssigned,UserAssigned"; `userAssignedIdentities` a map from
the ARM id of a Microsoft.ManagedIdentity/userAssignedIdentities resource to {} (its principalId
and clientId are read-only). Azure answers with the system-assigned identity's principalId and
tenantId, and each user-assigned identity's principalId and clientId. azure-ai-ml sends
SystemAssigned when the endpoint names no identity (OnlineEndpoint._to_rest_online_endpoint).

Local mode has one user-assigned identity, SEEDED, in its resource group; Azure refuses an
identity that does not exist, so local mode refuses any other id (400), and an id that is not
shaped as one (400).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from azml_local.infra.web import bad_request
from azml_local.resources.context import RESOURCE_GROUP, Context, field_of

SEEDED = "azml-standin-identity"
TYPES = ("None", "SystemAssigned", "UserAssigned", "SystemAssigned,UserAssigned")
# /subscriptions/GUID/resourceGroups/GROUP/providers/Microsoft.ManagedIdentity/
# userAssignedIdentities/NAME; a name is 3-128 letters, digits, '-' or '_', starting with a
# letter or digit (Azure's resource naming rules for Microsoft.ManagedIdentity).
SHAPE = re.compile(
    r"/subscriptions/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/resourceGroups/[-\w.()]{1,90}"
    r"/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/[A-Za-z0-9][-\w]{2,127}",
    re.IGNORECASE,
)


def seeded_identity_id(ctx: Context) -> str:
    return (f"/subscriptions/{ctx.identity.subscription_id}/resourceGroups/{RESOURCE_GROUP}"
            f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{SEEDED}")


def _principal(rid: str, salt: str) -> str:
    # Stable ids: the same resource keeps its principal across PUTs and restarts.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{salt}:{rid.lower()}"))


def endpoint_identity(ctx: Context, endpoint_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The identity an endpoint PUT asks for, as Azure shows it (a 400 for a bad one)."""
    given = field_of(body, "identity", dict, required=False) or {"type": "SystemAssigned"}
    kind = field_of(given, "type", str)
    if kind not in TYPES:
        raise bad_request(f"identity.type '{kind}' is not one of {', '.join(TYPES)}.")
    ids = field_of(given, "userAssignedIdentities", dict, required=False) or {}
    if ("UserAssigned" in kind) != bool(ids):
        raise bad_request("identity.userAssignedIdentities must name the user-assigned "
                          "identities exactly when identity.type includes UserAssigned.")
    shown: dict[str, Any] = {"type": kind}
    if "SystemAssigned" in kind:
        shown["principalId"] = _principal(endpoint_id, "system")
        shown["tenantId"] = ctx.identity.tenant_id
    if ids:
        shown["userAssignedIdentities"] = {}
        for rid in ids:
            if not SHAPE.fullmatch(rid):
                raise bad_request(f"'{rid}' is not a valid user-assigned identity resource id.",
                                  "InvalidIdentity")
            if rid.lower() != seeded_identity_id(ctx).lower():
                raise bad_request(f"The user-assigned identity '{rid}' was not found.",
                                  "InvalidIdentity")
            shown["userAssignedIdentities"][seeded_identity_id(ctx)] = {
                "principalId": _principal(rid, "user"), "clientId": _principal(rid, "client")}
    return shown
