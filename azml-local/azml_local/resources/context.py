"""What every resource module shares: configuration, the store, and small ARM helpers."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azml_local.infra.lro import now_iso
from azml_local.infra.web import ApiError, Request, bad_request, not_found

if TYPE_CHECKING:
    from azml_local.infra.auth import Identity
    from azml_local.infra.azurite import Azurite
    from azml_local.infra.controls import Controls
    from azml_local.infra.lro import Operations
    from azml_local.infra.state import Store

PROVIDER = "Microsoft.MachineLearningServices"
WS = (
    "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices"
    "/workspaces/{ws}"
)
RESOURCE_GROUP = "azml-standin-rg"
WORKSPACE = "azml-standin-ws"
LOCATION = "westeurope"
# The other places a promotion goes (issue 23: dev -> registry -> prod): a second workspace in
# another resource group of the same subscription, a third in another subscription, and one
# registry. The second service principal (auth.Identity.prod_*) reaches these and not the first.
PROD_RESOURCE_GROUP = "azml-standin-prod-rg"
PROD_WORKSPACE = "azml-standin-prod-ws"
OTHER_SUBSCRIPTION = "00000000-0000-4000-8000-000000000002"
OTHER_RESOURCE_GROUP = "azml-standin-other-rg"
OTHER_WORKSPACE = "azml-standin-other-ws"
REGISTRY = "azml-standin-registry"
REGISTRY_RESOURCE_GROUP = "azml-standin-registry-rg"


@dataclass
class Context:
    state_dir: Path
    store: Store
    identity: Identity
    controls: Controls
    ops: Operations
    azurite: Azurite
    base_url: str = ""  # https://127.0.0.1:PORT once the server listens
    serving: Any = None  # azml_local.serving.manager.ServingManager
    tracking: Any = None  # azml_local.tracking.server.TrackingServer
    # What a client process on this machine needs to reach local mode (cloud metadata, CA bundle,
    # proxy): Service.env()'s part that jobs' processes also get (tracking/runs.py).
    client_env: dict[str, str] = field(default_factory=dict)

    @property
    def blob_container(self) -> str:
        return "azureml-blobstore-" + self.workspace_guid

    @property
    def workspace_guid(self) -> str:
        return self.guid_of(self.identity.subscription_id, WORKSPACE)

    @staticmethod
    def guid_of(subscription: str, workspace: str) -> str:
        # The first workspace keeps the GUID it always had (subscription + name).
        return str(uuid.uuid5(uuid.NAMESPACE_URL, subscription + workspace))

    def workspaces(self) -> list[tuple[str, str, str]]:
        """(subscription, resource group, workspace) of every workspace local mode holds."""
        sub = self.identity.subscription_id
        return [(sub, RESOURCE_GROUP, WORKSPACE), (sub, PROD_RESOURCE_GROUP, PROD_WORKSPACE),
                (OTHER_SUBSCRIPTION, OTHER_RESOURCE_GROUP, OTHER_WORKSPACE)]

    def resource_groups(self) -> set[tuple[str, str]]:
        groups = {(s.lower(), g.lower()) for s, g, _ in self.workspaces()}
        return groups | {(self.identity.subscription_id.lower(), REGISTRY_RESOURCE_GROUP.lower())}

    def workspace(self, request: Request) -> dict[str, Any]:
        """The workspace the path names (404 as ARM when it does not exist).

        ARM checks a request's scope before a resource provider sees it: a subscription it does
        not know (or the caller cannot see) is 404 SubscriptionNotFound, a resource group that
        does not exist 404 ResourceGroupNotFound, and a missing resource 404 ResourceNotFound
        "The Resource '<type>/<name>' under resource group '<group>' was not found." (ARM docs:
        "Troubleshoot common Azure deployment errors", "Resolve errors for resource not found").
        Names compare without case, as ARM's do. The subscriptions and resource groups are
        those of `workspaces()` (and the registry's group).
        """
        p = request.params
        rid = WS.format(sub=p["sub"], rg=p["rg"], ws=p["ws"])
        found = self.store.get(rid)
        if found is not None:
            return found
        groups = self.resource_groups()
        if p["sub"].lower() not in {s for s, _ in groups}:
            raise ApiError(
                404, "SubscriptionNotFound", f"The subscription '{p['sub']}' could not be found."
            )
        if (p["sub"].lower(), p["rg"].lower()) not in groups:
            raise ApiError(
                404, "ResourceGroupNotFound", f"Resource group '{p['rg']}' could not be found."
            )
        raise ApiError(
            404,
            "ResourceNotFound",
            f"The Resource '{PROVIDER}/workspaces/{p['ws']}' under resource group "
            f"'{p['rg']}' was not found.",
        )


def system_data(previous: dict[str, Any] | None, who: str) -> dict[str, Any]:
    now = now_iso()
    created = (previous or {}).get("systemData") or {
        "createdAt": now,
        "createdBy": who,
        "createdByType": "Application",
    }
    return {
        **created,
        "lastModifiedAt": now,
        "lastModifiedBy": who,
        "lastModifiedByType": "Application",
    }


def caller(request: Request) -> str:
    # systemData.createdBy: the one service principal this stand-in knows.
    return "standin-service-principal"


def get_or_404(ctx: Context, rid: str, kind: str, name: str) -> dict[str, Any]:
    found = ctx.store.get(rid)
    if found is None:
        raise not_found(kind, name)
    return found


# --- validation of what we read from bodies (what the SDK's REST models would also reject) -----
def field_of(body: dict[str, Any], path: str, kind: type | tuple[type, ...], required: bool = True):
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value or value[part] is None:
            if required:
                raise bad_request(f"'{path}' is required.")
            return None
        value = value[part]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise bad_request(f"'{path}' has the wrong type ({type(value).__name__}).")
    return value


def properties_of(body: dict[str, Any]) -> dict[str, Any]:
    return field_of(body, "properties", dict)


def check_string_map(body: dict[str, Any], path: str, label: str | None = None) -> None:
    # Typed dict[str, str], but the SDK itself sends an int (code hash_version): accept scalars.
    value = field_of(body, path, dict, required=False)
    scalars = (str, int, float, bool, type(None))
    if value and not all(isinstance(v, scalars) for v in value.values()):
        raise bad_request(f"'{label or path}' must map names to strings.")


_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")


def duration_seconds(text: str) -> float | None:
    """Seconds of an ISO 8601 duration like PT30S or P1DT2H (None if it is not one).

    The durations the Azure ML REST API carries (batch retry timeouts, online request
    settings and probes): days, hours, minutes and (fractional) seconds.
    """
    match = _DURATION.fullmatch(text or "") if isinstance(text, str) else None
    if not match or text in ("P", "PT") or text.endswith("T"):
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds
