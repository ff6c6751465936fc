"""Local mode's registries, second and third workspaces and second service principal, through
the unchanged SDK (MLClient(registry_name=...), share) and raw ARM/MFE requests."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import requests
from azml_local.fixture import LocalAzureML
from azure.ai.ml import MLClient
from azure.ai.ml.entities import Model
from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential

from tests.local.conftest import make_credential

pytestmark = pytest.mark.timeout(180)
MFE = "/mferp/managementfrontend"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _client(credential, scope: dict) -> MLClient:
    return MLClient(credential, scope["subscription_id"], scope["resource_group"],
                    scope["workspace_name"])


def _prod_credential(standin: LocalAzureML) -> ClientSecretCredential:
    client_id, secret = standin.prod_credentials
    env = standin.env
    return ClientSecretCredential(env["AZ_TENANT_ID"], client_id, secret,
                                  authority=env["AZURE_AUTHORITY_HOST"],
                                  disable_instance_discovery=True)


def _arm(standin: LocalAzureML, method: str, path: str, body=None) -> requests.Response:
    token = make_credential(standin.env).get_token(standin.url + "/.default").token
    return requests.request(
        method, standin.url + path, json=body, timeout=30, verify=standin.env["REQUESTS_CA_BUNDLE"],
        params={"api-version": "2021-10-01-dataplanepreview"},
        headers={"Authorization": f"Bearer {token}"}, proxies={"https": "", "http": ""})


def test_registry_models_through_the_unchanged_sdk(standin: LocalAzureML, tmp_path: Path):
    credential = make_credential(standin.env)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.txt").write_text("weights")
    name = _name("reg")
    registry = MLClient(credential, registry_name=standin.registry)
    created = registry.models.create_or_update(Model(name=name, version="1",
                                                     path=str(tmp_path / "m"), tags={"t": "1"}))
    assert created.id == f"azureml://registries/{standin.registry}/models/{name}/versions/1"
    # Its files are in the registry's storage, and download back through the registry.
    registry.models.download(name, "1", download_path=str(tmp_path / "back"))
    assert (tmp_path / "back" / name / "m" / "w.txt").read_text() == "weights"
    # share: a workspace version copied into the registry by the service (POST .../import).
    workspace = _client(credential, standin.workspace)
    workspace.models.create_or_update(Model(name=name, version="5", path=str(tmp_path / "m")))
    shared = workspace.models.share(name, "5", share_with_name=name, share_with_version="5",
                                    registry_name=standin.registry)
    assert shared.id.endswith(f"/models/{name}/versions/5")
    assert [m.version for m in registry.models.list(name)] == ["5", "1"] or \
        {m.version for m in registry.models.list(name)} == {"1", "5"}


def test_a_registry_version_cannot_be_changed(standin: LocalAzureML, tmp_path: Path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.txt").write_text("weights")
    name = _name("immutable")
    registry = MLClient(make_credential(standin.env), registry_name=standin.registry)
    created = registry.models.create_or_update(Model(name=name, version="1",
                                                     path=str(tmp_path / "m")))
    discovery = _arm(standin, "GET", f"/registrymanagement/v1.0/registries/{standin.registry}"
                                     "/discovery").json()
    assert discovery["registryName"] == standin.registry
    assert discovery["primaryRegionResourceProviderUri"] == standin.url + "/"
    path = (f"{MFE}/subscriptions/{discovery['subscriptionId']}/resourceGroups/"
            f"{discovery['resourceGroup']}/providers/Microsoft.MachineLearningServices/"
            f"registries/{standin.registry}/models/{name}/versions/1")
    other = {"properties": {"modelUri": str(created.path) + "-other", "modelType": "custom_model"}}
    answer = _arm(standin, "PUT", path, other)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == {
        "code": "UserError",
        "message": f"Model {name} with version 1 is already registered and cannot be changed."}
    again = {"properties": {"modelUri": str(created.path), "modelType": "custom_model",
                            "properties": {"new": "value"}}}
    assert _arm(standin, "PUT", path, again).status_code == 409
    assert registry.models.get(name, "1").path == created.path


@pytest.mark.parametrize(("name", "status"), [("ab", 400), ("-bad-start", 400),
                                              ("a" * 34, 400), ("no-such-registry", 404)])
def test_registry_names_and_missing_registries(standin: LocalAzureML, name: str, status: int):
    # registries.json RegistryNameParameter: ^[a-zA-Z0-9][a-zA-Z0-9\-_]{2,32}$.
    answer = _arm(standin, "GET", f"/registrymanagement/v1.0/registries/{name}/discovery")
    assert answer.status_code == status, answer.text
    with pytest.raises(HttpResponseError) as raised:
        MLClient(make_credential(standin.env), registry_name=name)
    assert raised.value.status_code == status


def test_second_principal_reads_prod_and_other_subscription_not_dev(standin: LocalAzureML):
    prod = _prod_credential(standin)
    assert _client(prod, standin.prod_workspace).workspaces.get(
        standin.prod_workspace["workspace_name"]).name == standin.prod_workspace["workspace_name"]
    other = _client(prod, standin.other_workspace)
    assert other.workspaces.get(standin.other_workspace["workspace_name"]).location
    assert other.datastores.get_default().container_name.startswith("azureml-blobstore-")
    assert MLClient(prod, registry_name=standin.registry).models is not None
    dev = _client(prod, standin.workspace)
    with pytest.raises(HttpResponseError) as raised:
        dev.workspaces.get(standin.workspace["workspace_name"])
    assert raised.value.status_code == 403
    assert raised.value.error.code == "AuthorizationFailed"
    client_id = standin.prod_credentials[0]
    assert raised.value.error.message.startswith(
        f"The client '{client_id}' with object id '{client_id}' does not have authorization to "
        "perform action 'Microsoft.MachineLearningServices/workspaces/read' over scope "
        f"'/subscriptions/{standin.workspace['subscription_id']}/resourceGroups/"
        f"{standin.workspace['resource_group']}/providers/Microsoft.MachineLearningServices/"
        f"workspaces/{standin.workspace['workspace_name']}' or the scope is invalid.")
    # The first principal reaches all three workspaces.
    first = make_credential(standin.env)
    for scope in (standin.workspace, standin.prod_workspace, standin.other_workspace):
        assert _client(first, scope).workspaces.get(scope["workspace_name"]).name
