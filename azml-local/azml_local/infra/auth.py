"""Entra ID and cloud discovery stand-ins: cloud metadata, OpenID configuration, token endpoint.

Tokens are HS256 JWTs signed with a secret kept in the state dir, so they stay valid across a
restart with the same state (a real credential caches its token for an hour).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from azml_local.infra.web import ApiError, Request, Response, Router

# The name must not be one the SDK knows ("AzureCloud" would be served from its built-in table).
CLOUD_NAME = "AzureMLStandIn"
TOKEN_LIFETIME = 3600
#: Audience prefix of the run tokens a job gets (AZUREML_RUN_TOKEN, MLFLOW_TRACKING_TOKEN): a run
#: token works for the run's workspace data plane only. azureml-mlflow's
#: _common/_authentication/azureml_token_authentication.py: "The returned token cannot be used
#: against any Azure Resource Manager (ARM) operations like provisioning compute."
RUN_AUDIENCE = "azureml-run:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Identity:
    """The tenant, two service principals, and the token signer.

    The first principal (client_id) may do everything in every workspace and registry; the
    second (prod_client_id, "prod") only what `denied_scope` allows it: not the first
    workspace's resource group (the development one), so a credential that can read one
    workspace and not the other gets ARM's 403 AuthorizationFailed.
    """

    def __init__(self, state_dir: Path) -> None:
        path = state_dir / "identity.json"
        if path.exists():
            data = json.loads(path.read_text())
        else:
            data = {
                "subscription_id": "00000000-0000-4000-8000-000000000001",
                "tenant_id": "00000000-0000-4000-8000-0000000000aa",
                "client_id": "00000000-0000-4000-8000-0000000000cc",
                "client_secret": "standin-" + secrets.token_urlsafe(24),
                "signing_key": secrets.token_hex(32),
            }
            path.write_text(json.dumps(data, indent=1))
            path.chmod(0o600)
        if "prod_client_id" not in data:  # state written before the second principal existed
            data["prod_client_id"] = "00000000-0000-4000-8000-0000000000dd"
            data["prod_client_secret"] = "standin-" + secrets.token_urlsafe(24)
            path.write_text(json.dumps(data, indent=1))
            path.chmod(0o600)
        self.prod_client_id: str = data["prod_client_id"]
        self.prod_client_secret: str = data["prod_client_secret"]
        self.subscription_id: str = data["subscription_id"]
        self.tenant_id: str = data["tenant_id"]
        self.client_id: str = data["client_id"]
        self.client_secret: str = data["client_secret"]
        self._key = bytes.fromhex(data["signing_key"])

    def secret_of(self, client_id: str | None) -> str | None:
        known = {self.client_id: self.client_secret, self.prod_client_id: self.prod_client_secret}
        return known.get(client_id or "")

    def issue(
        self, audience: str, lifetime: int = TOKEN_LIFETIME, client_id: str = ""
    ) -> tuple[str, int]:
        now = int(time.time())
        claims = {
            "aud": audience,
            "iss": f"https://sts.standin.localhost/{self.tenant_id}/",
            "tid": self.tenant_id,
            "appid": client_id or self.client_id,
            "oid": client_id or self.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
        }
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims).encode())
        sig = hmac.new(self._key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(sig)}", now + lifetime

    def verify(self, token: str, audience_prefix: str = "") -> dict[str, Any] | None:
        try:
            head, body, sig = token.split(".")
            expected = hmac.new(self._key, f"{head}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(sig)):
                return None
            claims = json.loads(_unb64(body))
        except ValueError:
            return None
        if claims["exp"] < time.time() or not str(claims["aud"]).startswith(audience_prefix):
            return None
        return claims

    def check_arm_bearer(self, request: Request) -> None:
        """ARM's answer to a missing or bad token."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise ApiError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                {"WWW-Authenticate": 'Bearer authorization_uri="", error="invalid_token"'},
            )
        claims = self.verify(header[len("Bearer ") :])
        if claims is None or claims["aud"].startswith(("endpoint:", RUN_AUDIENCE)):
            raise ApiError(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if claims["oid"] == self.prod_client_id and self.denied_scope(request.path):
            raise authorization_failed(claims["appid"], request.method, request.path)

    def denied_scope(self, path: str) -> bool:
        # The prod principal has no role on the development workspace's resource group.
        from azml_local.resources.context import RESOURCE_GROUP

        scope = f"/subscriptions/{self.subscription_id}/resourceGroups/{RESOURCE_GROUP}/".lower()
        return path.lower().split("/mferp/managementfrontend")[-1].startswith(scope) or (
            path.lower().rstrip("/") == scope.rstrip("/"))

    def check_workspace_bearer(self, request: Request, workspace_id: str) -> None:
        """The workspace data plane's (MLflow, run history) answer to a missing or bad token.

        It takes what ARM takes (an Entra token for the cloud's resource manager: azureml-mlflow
        asks for `<resourceManager>/.default`, _common/_cloud/cloud.py `_get_default_scope`) and
        the run tokens of this workspace's jobs; a run token of another workspace is a 403.
        Refusals have the data plane's error shape (DataPlaneError).
        """
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise DataPlaneError(401, "Bearer token not provided.")
        claims = self.verify(header[len("Bearer ") :])
        audience = str(claims["aud"]) if claims else ""
        if claims is None or audience.startswith("endpoint:"):
            raise DataPlaneError(401, "The bearer token is invalid or expired.")
        if audience.startswith(RUN_AUDIENCE) and not audience.lower().startswith(
            f"{RUN_AUDIENCE}{workspace_id.lower()}/"
        ):
            raise DataPlaneError(403, "The run token does not grant access to this workspace.")

    def issue_run_token(self, workspace_id: str, run_id: str) -> str:
        """A job's run token (AZUREML_RUN_TOKEN): this workspace's data plane, not ARM."""
        token, _ = self.issue(f"{RUN_AUDIENCE}{workspace_id.lower()}/runs/{run_id}")
        return token


def authorization_failed(client_id: str, method: str, path: str) -> ApiError:
    """ARM's 403 for a caller without a role on the scope (RBAC), as Azure words it.

    Source: learn.microsoft.com "Troubleshoot Azure RBAC" / "Resolve errors for
    AuthorizationFailed": "The client '<id>' with object id '<id>' does not have authorization
    to perform action '<action>' over scope '<scope>' or the scope is invalid. If access was
    recently granted, please refresh your credentials."
    """
    parts = [p for p in path.split("/") if p]
    provider = next((i for i, p in enumerate(parts) if p.lower() == "providers"), None)
    # Microsoft.X/type/name/subtype/name -> Microsoft.X/type/subtype (the action's form).
    kinds = ([parts[provider + 1], *parts[provider + 2 :: 2]] if provider is not None
             else ["Microsoft.Resources", "subscriptions", "resourceGroups"])
    verb = {"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(
        method, "action")
    action = "/".join(kinds) + "/" + verb
    return ApiError(
        403, "AuthorizationFailed",
        f"The client '{client_id}' with object id '{client_id}' does not have authorization to "
        f"perform action '{action}' over scope '{path}' or the scope is invalid. If access was "
        "recently granted, please refresh your credentials.")


class DataPlaneError(ApiError):
    """An authentication refusal of the workspace's data plane (MLflow, run history).

    Azure's MLflow endpoint answers a request without a token 401 with this body (as seen in
    mlflow/mlflow#5846): error code UserError, message "Bearer token not provided.", inner
    error AuthorizationError, `componentName` mlflow. Other messages are ours (no public
    record of Azure's wording).
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, "UserError", message)

    def response(self) -> Response:
        body = {"error": {"code": "UserError", "severity": None, "message": self.message,
                          "messageFormat": None, "messageParameters": None,
                          "referenceCode": None, "detailsUri": None, "target": None,
                          "details": [], "innerError": {"code": "AuthorizationError",
                                                        "innerError": None},
                          "debugInfo": None, "additionalInfo": None},
                "componentName": "mlflow"}
        return Response(self.status, body)


def cloud_metadata(base_url: str, storage_suffix: str) -> list[dict[str, Any]]:
    # resourceManager must be a prefix of ARM_CLOUD_METADATA_URL: that is how the SDK picks the
    # cloud by default (azure.ai.ml._azure_environments._get_default_cloud_name).
    return [
        {
            "name": CLOUD_NAME,
            "portal": "https://portal.standin.localhost",
            "resourceManager": base_url + "/",
            "authentication": {
                "loginEndpoint": base_url + "/",
                "audiences": [base_url + "/"],
                "tenant": "common",
                "identityProvider": "AAD",
            },
            "suffixes": {"storage": storage_suffix, "keyVaultDns": "vault.standin.localhost"},
            "graph": base_url + "/graph/",
            "media": base_url + "/media/",
        }
    ]


def _aad_error(status: int, error: str, code: int, text: str) -> Response:
    # Shaped like Entra ID's token errors (MSAL and azure-identity surface error_description).
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {text}",
        "error_codes": [code],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": secrets.token_hex(8),
        "correlation_id": secrets.token_hex(8),
    }
    return Response(status, body)


def add_routes(router: Router, identity: Identity, storage_suffix: str) -> None:
    def metadata(request: Request) -> Response:
        return Response(200, cloud_metadata(request.base_url, storage_suffix))

    def openid(request: Request) -> Response:
        base = f"{request.base_url}/{request.params['tenant']}"
        return Response(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{base}/v2.0",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "token"],
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
                "tenant_region_scope": "standin",
            },
        )

    def token(request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode()))
        tenant = request.params["tenant"]
        if tenant.lower() not in (identity.tenant_id, "organizations", "common"):
            return _aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return _aad_error(400, "unsupported_grant_type", 70003, "Unsupported grant type.")
        secret = identity.secret_of(form.get("client_id"))
        if secret is None:
            return _aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the "
                f"directory '{tenant}'.",
            )
        if not hmac.compare_digest(form.get("client_secret", ""), secret):
            return _aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                f"the client secret value, not the client secret ID, for a secret added to app "
                f"'{form.get('client_id')}'.",
            )
        scope = form.get("scope", "").split(" ")[0].removesuffix(".default").rstrip("/")
        access, _ = identity.issue(scope or request.base_url, client_id=form["client_id"])
        return Response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "ext_expires_in": TOKEN_LIFETIME,
                "access_token": access,
            },
        )

    router.add("GET", "/metadata/endpoints", metadata)
    router.add("GET", "/{tenant}/v2.0/.well-known/openid-configuration", openid)
    router.add("POST", "/{tenant}/oauth2/v2.0/token", token)
