"""The scoring URI: endpoint auth, traffic routing, the deployment header, mirroring."""

from __future__ import annotations

import hmac
import json
import threading
from typing import Any

from azml_local.infra.state import PRIVATE
from azml_local.infra.web import ApiError, Request, Response, Router
from azml_local.resources.context import Context

HEADER = "azureml-model-deployment"
_FORWARD = ("content-type", "accept")


class _Balancer:
    """Smooth weighted round robin per endpoint: deterministic shares, e.g. 100/0 or 50/50."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[str, dict[str, int]] = {}
        self._mirror_count: dict[str, int] = {}

    def pick(self, endpoint: str, weights: dict[str, int]) -> str | None:
        live = {k: v for k, v in weights.items() if v > 0}
        if not live:
            return None
        with self._lock:
            current = self._current.setdefault(endpoint, {})
            for name, weight in live.items():
                current[name] = current.get(name, 0) + weight
            chosen = max(sorted(live), key=lambda n: current[n])
            current[chosen] -= sum(live.values())
            return chosen

    def mirror(self, endpoint: str, percent: int) -> bool:
        # Deterministic shares: request n+1 is copied when ceil((n+1)*p/100) grows, so the
        # first request is always copied and p% of any long run are.
        with self._lock:
            n = self._mirror_count.get(endpoint, 0)
            self._mirror_count[endpoint] = n + 1
            return -(-(n + 1) * percent // 100) > -(-n * percent // 100)


def _authorize(ctx: Context, endpoint: dict[str, Any], request: Request) -> None:
    header = request.headers.get("Authorization", "")
    token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
    mode = endpoint["properties"]["authMode"]
    ok = False
    if token and mode == "Key":
        keys = (endpoint[PRIVATE]["primaryKey"], endpoint[PRIVATE]["secondaryKey"])
        ok = any(hmac.compare_digest(token, k) for k in keys)
    elif token and mode == "AMLToken":
        ok = ctx.identity.verify(token, f"endpoint:{endpoint['name'].lower()}") is not None
    elif token and mode == "AADToken":
        ok = ctx.identity.verify(token) is not None
    if not ok:
        raise ApiError(401, "Unauthorized", "Authentication failed: invalid or missing key/token.")


def add_routes(router: Router, ctx: Context) -> None:
    balancer = _Balancer()

    def find(name: str) -> dict[str, Any]:
        for body in ctx.store.all():
            if body.get("type", "").endswith("/onlineEndpoints") and body["name"].lower() == (
                name.lower()
            ):
                return body
        raise ApiError(404, "EndpointNotFound", f"Endpoint '{name}' does not exist.")

    def score(request: Request) -> Response:
        endpoint = find(request.params["endpoint"])
        _authorize(ctx, endpoint, request)
        props = endpoint["properties"]
        deployments = {
            d["name"].lower(): d for d in ctx.store.children(endpoint["id"], "deployments")
        }
        wanted = request.headers.get(HEADER)
        if wanted:
            if wanted.lower() not in deployments:
                raise ApiError(404, "DeploymentNotFound", f"Deployment '{wanted}' not found.")
            target = deployments[wanted.lower()]["name"]
        else:
            target = balancer.pick(endpoint["id"].lower(), props.get("traffic") or {})
            if target is None:
                raise ApiError(
                    404,
                    "NoValidDeployments",
                    "No valid deployments to route to. Please check that the endpoint has at "
                    "least one deployment with positive weight values or use a deployment "
                    "specific header to route.",
                )
        headers = {k: v for k, v in request.headers.items() if k.lower() in _FORWARD}
        response = _forward(ctx, endpoint["name"], deployments[target.lower()], request, headers)
        if not wanted:
            for mirror_name, percent in (props.get("mirrorTraffic") or {}).items():
                if percent and balancer.mirror(endpoint["id"].lower(), percent):
                    threading.Thread(
                        target=_mirror,
                        args=(ctx, endpoint["name"], deployments.get(mirror_name.lower()),
                              request, headers),
                        daemon=True,
                    ).start()
        return response

    def swagger(request: Request) -> Response:
        endpoint = find(request.params["endpoint"])
        _authorize(ctx, endpoint, request)
        return Response(200, {"swagger": "2.0", "info": {"title": endpoint["name"]}})

    router.add("POST", "/endpoints/{endpoint}/score", score)
    router.add("GET", "/endpoints/{endpoint}/swagger.json", swagger)


def _forward(
    ctx: Context, endpoint: str, deployment: dict[str, Any], request: Request,
    headers: dict[str, str],
) -> Response:
    name = deployment["name"]
    reply = {HEADER: name}  # Azure names the deployment that answered
    status = ctx.controls.scoring_fault(endpoint, name)
    if status is not None:
        body = {"error": {"code": "InjectedFault", "message": f"Injected scoring fault {status}."}}
        return Response(status, body, reply)
    key = deployment[PRIVATE].get("serving_key")
    # An update is rolling on Azure: the running version keeps answering while the new one
    # provisions ("Updating"); a deployment being created has nothing that could answer yet.
    serving = deployment["properties"]["provisioningState"] in ("Succeeded", "Updating")
    if not serving or not key or not ctx.serving:
        return Response(503, {"error": {"code": "ServiceUnavailable", "message":
                                        f"Deployment '{name}' is not ready."}}, reply)
    code, out_headers, body = ctx.serving.score(key, request.body, headers)
    passthrough = {k: v for k, v in out_headers.items() if k.lower() == "content-type"}
    return Response(code, body, {**passthrough, **reply})


def _mirror(
    ctx: Context, endpoint: str, deployment: dict[str, Any] | None, request: Request,
    headers: dict[str, str],
) -> None:
    if deployment is None:
        return
    response = _forward(ctx, endpoint, deployment, request, headers)
    body = response.body if isinstance(response.body, bytes) else json.dumps(response.body)
    ctx.controls.mirror(
        endpoint,
        {
            "deployment": deployment["name"],
            "status": response.status,
            "request": request.body.decode(errors="replace"),
            "response": body.decode(errors="replace") if isinstance(body, bytes) else body,
        },
    )
