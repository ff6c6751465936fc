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
    command_jobs,
    compute_clusters,
    kubernetes_computes,
    online_deployments,
    online_endpoints,
    registries,
    schedules,
    workspace,
)
from azml_local.resources.context import (
    LOCATION,
    OTHER_RESOURCE_GROUP,
    OTHER_SUBSCRIPTION,
    OTHER_WORKSPACE,
    PROD_RESOURCE_GROUP,
    PROD_WORKSPACE,
    REGISTRY,
    RESOURCE_GROUP,
    WORKSPACE,
    Context,
)
from azml_local.serving import front_door
from azml_local.tracking import artifacts as tracking_artifacts
from azml_local.tracking import routes as tracking_routes
from azml_local.tracking.server import TrackingServer

log = logging.getLogger("standin")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _check_subscription_id(path: str) -> None:
    # ARM refuses a subscription id that is not a GUID before any resource provider sees the
    # request: 400 InvalidSubscriptionId, "The provided subscription identifier '...' is
    # malformed or invalid." (the body as seen in Azure/apiops#460).
    subscription = path.removeprefix(registries.MFE).split("/")[2]
    if not _GUID.match(subscription):
        raise ApiError(400, "InvalidSubscriptionId", f"The provided subscription identifier "
                       f"'{subscription}' is malformed or invalid.")


# Paths that need an ARM bearer token: the management plane, the registry data plane (MFE) and
# registry discovery (both take the management-scope token, _registry_utils.get_registry_client).
_ARM_PREFIXES = ("/subscriptions/", registries.MFE + "/subscriptions/", "/registrymanagement/")


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
        command_jobs.add_routes(self.router, self.ctx)
        autoscale.add_routes(self.router, self.ctx)
        registries.add_routes(self.router, self.ctx)
        # MLflow tracking: MLflow's own server, started on the first MLflow call or job.
        from azml_local.serving.provision import serving

        self.ctx.tracking = TrackingServer(state_dir, lambda: serving(self.ctx).environments)
        tracking_routes.add_routes(self.router, self.ctx)
        tracking_artifacts.add_routes(self.router, self.ctx)
        self.controls_router.add("POST", "/_standin/tracking/job-environment",
                                 self._job_environment)
        self.controls_router.add("POST", "/_standin/tracking/finish-run", self._finish_run)
        schedules.add_routes(self.router, self.ctx)
        workspace.seed(self.ctx)
        registries.seed(self.ctx)
        kubernetes_computes.seed(self.ctx, workspace.workspace_id(self.ctx))
        compute_clusters.seed(self.ctx, workspace.workspace_id(self.ctx))
        self.server = serve(self.handle, port, self.tls.cert, self.tls.key)
        self.ctx.base_url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.ctx.client_env = self.env()
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
                if request.path.lower().startswith(_ARM_PREFIXES):
                    self.ctx.identity.check_arm_bearer(request)
                if request.path.lower().startswith(_ARM_PREFIXES[:2]):
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

    def _job_environment(self, request: Request) -> Response:
        # Test control: a job's MLflow variables without a job (tests of tracking alone).
        from azml_local.tracking import job_environment

        body = request.json_object()
        env = job_environment(self.ctx, str(body["job_name"]), str(body["experiment_name"]))
        return Response(200, {"env": env})

    def _finish_run(self, request: Request) -> Response:
        # Test control: end a job's run as the job's end does (tests of tracking alone).
        from azml_local.tracking import finish_run

        body = request.json_object()
        finish_run(self.ctx, str(body["job_name"]), str(body["status"]))
        return Response(200, {})

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
            # azure-ai-ml reads a cloud's registry discovery address from this variable when the
            # cloud is not one it knows (_azure_environments._get_registry_discovery_url).
            "REGISTRY_DISCOVERY_ENDPOINT_URL": url + "/",
            # The other workspaces, the registry, and the second service principal (issue 23).
            "AZML_LOCAL_PROD_RESOURCE_GROUP": PROD_RESOURCE_GROUP,
            "AZML_LOCAL_PROD_WORKSPACE": PROD_WORKSPACE,
            "AZML_LOCAL_OTHER_SUBSCRIPTION": OTHER_SUBSCRIPTION,
            "AZML_LOCAL_OTHER_RESOURCE_GROUP": OTHER_RESOURCE_GROUP,
            "AZML_LOCAL_OTHER_WORKSPACE": OTHER_WORKSPACE,
            "AZML_LOCAL_REGISTRY": REGISTRY,
            "AZML_LOCAL_PROD_CLIENT_ID": ident.prod_client_id,
            "AZML_LOCAL_PROD_CLIENT_SECRET": ident.prod_client_secret,
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.proxy.shutdown()
        self.proxy.server_close()
        online_deployments.shutdown(self.ctx)
        batch_jobs.shutdown(self.ctx)
        self.ctx.tracking.stop()
        self.azurite.stop()
