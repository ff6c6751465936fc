"""The stand-in service: wires TLS, identity, Azurite, the proxy, resources and the server."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from azml_local.infra import auth
from azml_local.infra.azurite import Azurite
from azml_local.infra.certs import make_tls
from azml_local.infra.controls import Controls
from azml_local.infra.lro import Operations
from azml_local.infra.proxy import start_proxy
from azml_local.infra.state import Store
from azml_local.infra.web import ApiError, Request, Response, Router, serve
from azml_local.resources import (
    assets,
    autoscale,
    batch_endpoints,
    batch_jobs,
    compute_clusters,
    kubernetes_computes,
    online_deployments,
    online_endpoints,
    schedules,
    workspace,
)
from azml_local.resources.context import LOCATION, RESOURCE_GROUP, WORKSPACE, Context
from azml_local.serving import front_door

log = logging.getLogger("standin")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _check_subscription_id(path: str) -> None:
    # ARM refuses a subscription id that is not a GUID before any resource provider sees the
    # request: 400 InvalidSubscriptionId, "The provided subscription identifier '...' is
    # malformed or invalid." (the body as seen in Azure/apiops#460).
    subscription = path.split("/")[2]
    if not _GUID.match(subscription):
        raise ApiError(400, "InvalidSubscriptionId", f"The provided subscription identifier "
                       f"'{subscription}' is malformed or invalid.")


def _written_body(request: Request) -> object:
    # What an ARM write (PUT or PATCH) sent, for the request log; None for anything else.
    if request.method not in ("PUT", "PATCH") or not request.path.lower().startswith(
        "/subscriptions/"
    ):
        return None
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        return None


class Service:
    def __init__(self, state_dir: Path, port: int = 0) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir
        self.tls = make_tls(state_dir / "tls")
        identity = auth.Identity(state_dir)
        controls = Controls()
        self.azurite = Azurite(state_dir / "azurite", self.tls.cert, self.tls.key, self.tls.bundle)
        self.azurite.start()
        self.proxy = start_proxy(
            {self.azurite.port}, faults=controls, tls=(self.tls.cert, self.tls.key, self.tls.ca)
        )
        self.ctx = Context(
            state_dir=state_dir,
            store=Store(state_dir / "resources.json"),
            identity=identity,
            controls=controls,
            ops=Operations(controls, identity.subscription_id, LOCATION),
            azurite=self.azurite,
        )
        self.router = Router()
        self.controls_router = Router()
        controls.add_routes(self.controls_router)
        front_door.add_control_routes(self.controls_router, self.ctx)
        auth.add_routes(self.router, identity, f"core.localhost:{self.azurite.port}")
        self.ctx.ops.add_routes(self.router)
        workspace.add_routes(self.router, self.ctx)
        assets.add_routes(self.router, self.ctx)
        online_endpoints.add_routes(self.router, self.ctx)
        # Both kinds of compute are listed and read by kubernetes_computes.py's routes (one store).
        kubernetes_computes.add_routes(self.router, self.ctx)
        batch_endpoints.add_routes(self.router, self.ctx)
        batch_jobs.add_routes(self.router, self.ctx)
        autoscale.add_routes(self.router, self.ctx)
        schedules.add_routes(self.router, self.ctx)
        workspace.seed(self.ctx)
        kubernetes_computes.seed(self.ctx, workspace.workspace_id(self.ctx))
        compute_clusters.seed(self.ctx, workspace.workspace_id(self.ctx))
        self.server = serve(self.handle, port, self.tls.cert, self.tls.key)
        self.ctx.base_url = f"https://127.0.0.1:{self.server.server_address[1]}"
        online_deployments.recover(self.ctx)
        batch_endpoints.recover(self.ctx)
        batch_jobs.recover(self.ctx)

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_standin/"):
            return self.controls_router.resolve(request)(request)
        controls = self.ctx.controls
        internal_error = ""
        response = controls.http_fault(request.method, request.path)
        if response is None:
            try:
                handler = self.router.resolve(request)
                if request.path.lower().startswith("/subscriptions/"):
                    self.ctx.identity.check_arm_bearer(request)
                    _check_subscription_id(request.path)
                response = handler(request)
            except Exception as exc:  # answered as the service would, logged if unexpected
                if not isinstance(exc, ApiError):
                    log.exception("stand-in error on %s %s", request.method, request.path)
                    internal_error = repr(exc)
                    exc = ApiError(500, "InternalServerError", repr(exc))
                response = exc.response()
        controls.record(request.method, request.path, response.status,
                        _written_body(request), internal_error)
        return response

    def env(self) -> dict[str, str]:
        ident = self.ctx.identity
        url = self.ctx.base_url
        proxy = f"http://127.0.0.1:{self.proxy.server_address[1]}"
        return {
            "ARM_CLOUD_METADATA_URL": f"{url}/metadata/endpoints",
            "REQUESTS_CA_BUNDLE": str(self.tls.bundle),
            "SSL_CERT_FILE": str(self.tls.bundle),
            "AZURE_AUTHORITY_HOST": url,
            "AZ_SUBSCRIPTION_ID": ident.subscription_id,
            "AZ_TENANT_ID": ident.tenant_id,
            "AZ_CLIENT_ID": ident.client_id,
            "AZ_CLIENT_SECRET": ident.client_secret,
            # Both spellings: urllib prefers a lower-case variable when both exist.
            "HTTPS_PROXY": proxy,
            "https_proxy": proxy,
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
            "AZML_EXCLUDE_MANAGED_IDENTITY": "1",
            "AZML_LOCAL_RESOURCE_GROUP": RESOURCE_GROUP,
            "AZML_LOCAL_WORKSPACE": WORKSPACE,
            "AZML_LOCAL_URL": url,
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.proxy.shutdown()
        self.proxy.server_close()
        online_deployments.shutdown(self.ctx)
        batch_jobs.shutdown(self.ctx)
        self.azurite.stop()
