"""Online endpoints and their deployments: ARM routes, Azure's traffic rules, LRO provisioning."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from azml_local.infra.state import PRIVATE, public
from azml_local.infra.web import Request, Response, Router, bad_request
from azml_local.resources import kubernetes_computes, online_deployments, online_settings
from azml_local.resources.context import (
    LOCATION,
    WS,
    Context,
    caller,
    field_of,
    properties_of,
    system_data,
)
from azml_local.resources.identities import endpoint_identity
from azml_local.resources.online import (
    EP,
    NAME,
    endpoint_body,
    endpoint_id,
    refuse_if_busy,
    set_state,
    stop_serving,
)
from azml_local.resources.tags import checked_tags
from azml_local.serving import front_door

log = logging.getLogger("standin")
AUTH_MODES = {"key": "Key", "amltoken": "AMLToken", "aadtoken": "AADToken"}


def _new_key() -> str:
    return secrets.token_urlsafe(32)


def endpoint_view(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    body = public(body)
    name = body["name"]
    # Addresses depend on this run's port, so they are computed on read.
    body["properties"]["scoringUri"] = f"{ctx.base_url}/endpoints/{name}/score"
    body["properties"]["swaggerUri"] = f"{ctx.base_url}/endpoints/{name}/swagger.json"
    body["properties"]["keys"] = None
    return body


def _match_names(mapping: dict[str, Any], names: dict[str, str], what: str) -> dict[str, int]:
    """Validate a traffic map against existing deployments; keys take the deployments' case."""
    result = {}
    for name, value in mapping.items():
        if name.lower() not in names:
            raise bad_request(
                f"{what} refers to deployment '{name}', which does not exist in this endpoint."
            )
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
            raise bad_request(f"{what} for '{name}' must be an integer between 0 and 100.")
        result[names[name.lower()]] = value
    return result


def check_traffic(
    traffic: dict[str, Any], mirror: dict[str, Any], deployments: list[dict[str, Any]]
) -> tuple[dict[str, int], dict[str, int]]:
    # Azure's traffic rules, from Microsoft's sources:
    # - REST API spec (stable 2024-04-01, mfe.json, OnlineEndpointProperties): `traffic` is the
    #   "Percentage of traffic from endpoint to divert to each deployment. Traffic values need to
    #   sum to 100." (an endpoint with no live traffic at all, every share 0, is what a first
    #   deployment at 0% gives, and is accepted); `mirrorTraffic`: "Traffic values need to sum
    #   to utmost 50." Both are maps of deployment name to int32 percent.
    # - "Safe rollout for online endpoints" (learn.microsoft.com, how-to-safely-rollout-online-
    #   endpoints), mirroring limitations: traffic can be mirrored to one deployment only, at most
    #   50%, and a deployment receives either live or mirrored traffic, not both.
    # - Names refer to deployments of this endpoint, matched ignoring case as ARM names are.
    names = {d["name"].lower(): d["name"] for d in deployments}
    live = _match_names(traffic, names, "Traffic")
    total = sum(live.values())
    if live and total not in (0, 100):
        raise bad_request(f"Traffic values must sum to 100 (or all be 0); they sum to {total}.")
    mirrored = _match_names(mirror, names, "Mirror traffic")
    active = {k: v for k, v in mirrored.items() if v}
    if len(active) > 1:
        raise bad_request("Mirror traffic can be sent to one deployment only.")
    for name, value in active.items():
        if value > 50:
            raise bad_request(f"Mirror traffic to '{name}' must not exceed 50%.")
        if live.get(name):
            raise bad_request(f"Deployment '{name}' cannot receive both live and mirror traffic.")
    return live, mirrored



def check_kind(previous: dict[str, Any] | None, compute: str | None, mirror: Any) -> None:
    # Kubernetes online endpoints (`compute` set) differ from managed ones:
    # - the kind and the compute are fixed when the endpoint is created: its deployments run on
    #   that cluster (REST API spec 2024-04-01: `compute` is the endpoint's "ARM resource ID of
    #   the compute"; the PATCH body, PartialMinimalTrackedResourceWithIdentity, has no
    #   properties at all, and no documented way moves an endpoint between kinds);
    # - "Mirroring isn't currently supported for Kubernetes online endpoints" (Microsoft's
    #   safe-rollout article, how-to-safely-rollout-online-endpoints, mirroring limitations).
    if previous is not None:
        old = previous["properties"].get("compute")
        if (old or "").lower() != (compute or "").lower():
            def kind(c: str | None) -> str:
                return f"Kubernetes on compute '{c.rsplit('/', 1)[-1]}'" if c else "managed"

            raise bad_request(f"Endpoint '{previous['name']}' is {kind(old)}; an endpoint's "
                              f"kind and compute cannot change after creation ({kind(compute)} "
                              "was asked).")
    if compute and any((mirror or {}).values()):
        raise bad_request("Mirror traffic is not supported for Kubernetes online endpoints.")


def add_routes(router: Router, ctx: Context) -> None:
    def get_endpoint_body(request: Request) -> dict[str, Any]:
        return endpoint_body(ctx, request)

    def list_endpoints(request: Request) -> Response:
        ws = ctx.workspace(request)
        items = ctx.store.children(ws["id"], "onlineEndpoints")
        return Response(200, {"value": [endpoint_view(ctx, e) for e in items]})

    def get_endpoint(request: Request) -> Response:
        return Response(200, endpoint_view(ctx, get_endpoint_body(request)))

    def put_endpoint(request: Request) -> Response:
        name = request.params["endpoint"]
        if not NAME.match(name):
            raise bad_request(
                f"Endpoint name '{name}' is invalid: 3-32 characters, starting with a letter, "
                "letters, digits and hyphens only."
            )
        body = request.json_object()
        props = properties_of(body)
        mode = field_of(props, "authMode", str)
        if mode.lower() not in AUTH_MODES:
            raise bad_request(f"authMode '{mode}' is not one of Key, AMLToken, AADToken.")
        traffic = field_of(props, "traffic", dict, required=False)
        mirror = field_of(props, "mirrorTraffic", dict, required=False)
        field_of(body, "location", str, required=False)
        field_of(props, "description", str, required=False)
        network = online_settings.public_network_access(props)
        tags = checked_tags(body)  # ARM's tag limits (see tags.py)
        rid = endpoint_id(ctx, request)
        compute = field_of(props, "compute", str, required=False) or None
        if compute:
            workspace_id = ctx.workspace(request)["id"]
            compute = kubernetes_computes.kubernetes_compute(ctx, workspace_id, compute)["id"]
        with ctx.store.lock:
            previous = ctx.store.get(rid)
            check_kind(previous, compute, mirror)
            deployments = ctx.store.children(rid, "deployments") if previous else []
            refuse_if_busy(previous, request.params["ws"])
            old = previous["properties"] if previous else {}
            live, mirrored = check_traffic(
                old.get("traffic", {}) if traffic is None else traffic,
                old.get("mirrorTraffic", {}) if mirror is None else mirror,
                deployments,
            )
            if previous and AUTH_MODES[mode.lower()] != old["authMode"]:
                raise bad_request("authMode cannot be changed on an existing endpoint.")
            record = {
                "id": previous["id"] if previous else rid,
                "name": previous["name"] if previous else name,
                "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
                "location": body.get("location") or LOCATION,
                "kind": body.get("kind") or "Managed",
                "tags": tags,  # a PUT replaces the whole map
                "identity": endpoint_identity(ctx, rid, body),  # see identities.py
                "systemData": system_data(previous, caller(request)),
                "properties": {
                    "authMode": AUTH_MODES[mode.lower()],
                    "description": props.get("description"),
                    "properties": props.get("properties") or {},
                    "traffic": live,
                    "mirrorTraffic": mirrored,
                    "publicNetworkAccess": network,
                    "compute": compute,
                    "provisioningState": "Updating" if previous else "Creating",
                },
                PRIVATE: previous[PRIVATE]
                if previous
                else {"primaryKey": _new_key(), "secondaryKey": _new_key()},
            }
            ctx.store.put(record)
        headers = ctx.ops.start(
            request,
            rid,
            lambda: set_state(ctx, rid, "Succeeded"),
            lambda _: set_state(ctx, rid, "Failed"),
        )
        return Response(200 if previous else 201, endpoint_view(ctx, record), headers)

    def delete_endpoint(request: Request) -> Response:
        rid = endpoint_id(ctx, request)
        with ctx.store.lock:
            body = ctx.store.get(rid)
            if body is None:
                return Response(204)
            refuse_if_busy(body, request.params["ws"])
            body["properties"]["provisioningState"] = "Deleting"
            ctx.store.put(body)

        def work() -> None:
            for dep in ctx.store.children(rid, "deployments"):
                stop_serving(ctx, dep)
            ctx.store.delete(rid)

        headers = ctx.ops.start(request, rid, work, lambda _: set_state(ctx, rid, "Failed"))
        return Response(202, None, headers)

    def list_keys(request: Request) -> Response:
        private = get_endpoint_body(request)[PRIVATE]
        return Response(
            200, {"primaryKey": private["primaryKey"], "secondaryKey": private["secondaryKey"]}
        )

    def regenerate_keys(request: Request) -> Response:
        rid = endpoint_id(ctx, request)
        body = request.json_object()
        key_type = field_of(body, "keyType", str)
        if key_type.lower() not in ("primary", "secondary"):
            raise bad_request("keyType must be Primary or Secondary.")
        slot = key_type.lower() + "Key"
        value = field_of(body, "keyValue", str, required=False)
        with ctx.store.lock:
            endpoint = get_endpoint_body(request)
            # The SDK sends the *current* key as keyValue; that (or none) means "make a new one".
            current = endpoint[PRIVATE][slot]
            endpoint[PRIVATE][slot] = value if value and value != current else _new_key()
            ctx.store.put(endpoint)
        headers = ctx.ops.start(request, rid, lambda: None, lambda _: None)
        return Response(202, None, headers)

    def get_token(request: Request) -> Response:
        endpoint = get_endpoint_body(request)
        if endpoint["properties"]["authMode"] != "AMLToken":
            raise bad_request("Tokens are only issued for endpoints with authMode AMLToken.")
        token, expiry = ctx.identity.issue(f"endpoint:{endpoint['name'].lower()}")
        return Response(
            200,
            {
                "accessToken": token,
                "tokenType": "Bearer",
                "expiryTimeUtc": expiry,
                "refreshAfterTimeUtc": expiry - 1800,
            },
        )

    router.add("GET", WS + "/onlineEndpoints", list_endpoints)
    router.add("GET", EP, get_endpoint)
    router.add("PUT", EP, put_endpoint)
    router.add("DELETE", EP, delete_endpoint)
    router.add("POST", EP + "/listKeys", list_keys)
    router.add("POST", EP + "/regenerateKeys", regenerate_keys)
    router.add("POST", EP + "/token", get_token)
    online_deployments.add_routes(router, ctx)
    front_door.add_routes(router, ctx)
