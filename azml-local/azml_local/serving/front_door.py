"""The scoring URI: endpoint auth, traffic routing, the deployment header, mirroring, and the
status codes Azure answers for a deployment's request settings.

"Troubleshoot online endpoint deployment and scoring" (learn.microsoft.com), HTTP status codes,
managed online endpoints: 408 when "the model execution took longer than the timeout supplied
in request_timeout_ms"; 424 "If your model container returns a non-200 response", with the
headers ms-azureml-model-error-statuscode and ms-azureml-model-error-reason; 429 "Too many
pending requests" beyond "2 * max_concurrent_requests_per_instance * instance_count" requests at
any time. Kubernetes online endpoints: 504 when a request times out. Azure ML's inference
sidecar (its Envoy Lua filter) answers so: a non-200 becomes 424 with reason `model_error` and
the model's status, body kept; an overflow is 429 with reason `too_many_pending_request` and an
empty text/plain body.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import uuid
from typing import Any

from azml_local.infra.state import PRIVATE
from azml_local.infra.web import ApiError, Request, Response, Router
from azml_local.resources.context import Context

HEADER = "azureml-model-deployment"
MODEL_STATUS = "ms-azureml-model-error-statuscode"
MODEL_REASON = "ms-azureml-model-error-reason"
log = logging.getLogger("standin")
_FORWARD = ("content-type", "accept")
REQUEST_ID = "x-request-id"


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
        # The request's correlation id: the caller's x-request-id, else a new one (payload
        # logging's correlationid/xrequestid; data_collector.py).
        headers[REQUEST_ID] = request.headers.get(REQUEST_ID) or str(uuid.uuid4())
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


def add_control_routes(router: Router, ctx: Context) -> None:
    """Test controls on the scoring side (served under /_standin/ with the others)."""

    def collector_down(request: Request) -> Response:
        # The deployment's data collector stops listening (as if its sidecar were gone); the
        # scoring process keeps its AZUREML_MDC_PORT and keeps scoring.
        body = request.json_object()
        endpoint, name = str(body.get("endpoint", "")).lower(), str(body.get("deployment", ""))
        for found in ctx.store.all():
            if not found.get("type", "").endswith("/onlineEndpoints/deployments"):
                continue
            if not found["id"].lower().endswith(
                    f"/onlineendpoints/{endpoint}/deployments/{name.lower()}"):
                continue
            key = found[PRIVATE].get("serving_key")
            collector = ctx.serving.collector(key) if key and ctx.serving else None
            if collector is not None:
                collector.stop_listening()
                return Response(200, {"stopped": True})
        return Response(200, {"stopped": False})

    router.add("POST", "/_standin/collector-faults", collector_down)


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
    from azml_local.serving.manager import NotServing, ScoringTimeout, TooManyPending

    managed = deployment["properties"].get("endpointComputeType") != "Kubernetes"
    try:
        code, out_headers, body = ctx.serving.score(key, request.body, headers)
    except NotServing:
        return Response(502, b"The deployment's container is not running.",
                        {"Content-Type": "text/plain", **reply})
    except TooManyPending:
        return Response(429, b"", {"Content-Type": "text/plain",
                                   MODEL_REASON: "too_many_pending_request", **reply})
    except ScoringTimeout as timeout:
        timeout_ms = round(timeout.seconds * 1000)
        message = (f"The model did not answer within request_timeout_ms ({timeout_ms} ms)."
                   if managed else "upstream request timeout")
        return Response(408 if managed else 504, message.encode(),
                        {"Content-Type": "text/plain", **reply})
    try:  # collection never breaks scoring (as on Azure): a lost event is logged
        _log_payload(ctx, key, request, headers, out_headers, body)
    except OSError as error:
        log.warning("payload logging for %s/%s failed: %s", endpoint, name, error)
    passthrough = {k: v for k, v in out_headers.items() if k.lower() == "content-type"}
    if code != 200 and managed:
        reply = {**reply, MODEL_STATUS: str(code), MODEL_REASON: "model_error"}
        code = 424
    return Response(code, body, {**passthrough, **reply})


def _log_payload(ctx: Context, key: str, request: Request, headers: dict[str, str],
                 out_headers: dict[str, str], body: bytes) -> None:
    # Payload logging (collections request and response): what the scoring container received
    # and answered, with the correlation id and the captured headers (never credentials).
    collector = ctx.serving.collector(key)
    if collector is None:
        return
    correlation = headers.get(REQUEST_ID, "")
    if collector.config.payload_logging("request"):
        collector.payload("request", request.body, request.headers.get("Content-Type")
                          or "application/json", correlation, dict(request.headers.items()))
    if collector.config.payload_logging("response"):
        kind = next((v for k, v in out_headers.items() if k.lower() == "content-type"),
                    "application/json")
        collector.payload("response", body, kind, correlation, {})


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
