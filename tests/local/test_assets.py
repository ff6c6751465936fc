from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azml_local.fixture import LocalAzureML
from azure.ai.ml import MLClient
from azure.ai.ml.constants import AssetTypes, ListViewType
from azure.ai.ml.entities import Model
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from tests.local.conftest import make_client

pytestmark = pytest.mark.timeout(120)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_workspace_and_datastore(ml_client: MLClient, standin: LocalAzureML) -> None:
    ws = ml_client.workspaces.get(standin.env["AZML_LOCAL_WORKSPACE"])
    assert ws.name == standin.env["AZML_LOCAL_WORKSPACE"]
    store = ml_client.datastores.get_default()
    assert store.name == "workspaceblobstore"
    assert store.account_name == "devstoreaccount1"


@pytest.mark.parametrize(
    ("scope", "code", "message"),
    [
        ({"workspace_name": "no-such-ws"}, "ResourceNotFound",
         "The Resource 'Microsoft.MachineLearningServices/workspaces/no-such-ws' under "
         "resource group '{rg}' was not found."),
        ({"resource_group_name": "no-such-rg"}, "ResourceGroupNotFound",
         "Resource group 'no-such-rg' could not be found."),
        ({"subscription_id": "0f0f0f0f-0000-4000-8000-00000000beef"}, "SubscriptionNotFound",
         "The subscription '0f0f0f0f-0000-4000-8000-00000000beef' could not be found."),
    ],
)
def test_a_missing_scope_is_answered_as_arm_does(
    standin: LocalAzureML, scope: dict, code: str, message: str
) -> None:
    # ARM's 404s for the scope of a request, before the resource read: the workspace, the
    # resource group or the subscription (ARM docs: common deployment errors, not found).
    env = standin.env
    arguments = {"subscription_id": env["AZ_SUBSCRIPTION_ID"],
                 "resource_group_name": env["AZML_LOCAL_RESOURCE_GROUP"],
                 "workspace_name": env["AZML_LOCAL_WORKSPACE"], **scope}
    client = MLClient(make_client(env)._credential, **arguments)
    for read in (lambda: client.models.get("m", version="1"),
                 lambda: client.workspaces.get(arguments["workspace_name"])):
        with pytest.raises(HttpResponseError) as raised:
            read()
        assert raised.value.status_code == 404
        assert raised.value.error.code == code
        assert raised.value.error.message == message.format(rg=arguments["resource_group_name"])


def test_concurrent_puts_of_one_new_version_create_it_once(ml_client: MLClient) -> None:
    # Eight PUTs of one new version with different files at the same moment: one creates it,
    # every other is answered as a PUT of an existing version with other files (409), and the
    # version holds the files of the one that succeeded (never the last one written).
    import threading

    name, runs = _name("race"), 8
    start, outcomes = threading.Barrier(runs), {}

    def put(i: int) -> None:
        model = Model(name=name, version="1",
                      path=f"azureml://datastores/workspaceblobstore/paths/race/{i}")
        start.wait(30)
        try:
            outcomes[i] = ml_client.models.create_or_update(model).path
        except HttpResponseError as error:
            outcomes[i] = error.status_code

    threads = [threading.Thread(target=put, args=(i,)) for i in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    created = [path for path in outcomes.values() if isinstance(path, str)]
    assert len(created) == 1 and sorted(v for v in outcomes.values() if v != created[0]) == [
        409] * (runs - 1), outcomes
    assert ml_client.models.get(name, version="1").path == created[0]


def test_folder_and_file_models(ml_client: MLClient, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.txt").write_text("w=1\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "extra.json").write_text("{}")
    name = _name("folder")
    first = ml_client.models.create_or_update(Model(name=name, path=folder, version="1"))
    assert first.version == "1"
    assert first.path.startswith("azureml://")
    # Auto-versioning: no version given -> the service's nextVersion.
    second = ml_client.models.create_or_update(Model(name=name, path=folder))
    assert second.version == "2"
    got = ml_client.models.get(name, "1")
    assert got.id.lower() == first.id.lower()
    versions = sorted(m.version for m in ml_client.models.list(name=name))
    assert versions == ["1", "2"]
    assert ml_client.models.get(name, label="latest").version == "2"

    single = tmp_path / "model.pkl"
    single.write_bytes(b"pickle-bytes")
    file_model = ml_client.models.create_or_update(Model(name=_name("file"), path=single))
    assert file_model.version == "1"
    assert file_model.path.endswith("model.pkl")


def test_same_version_changed_content_is_conflict(ml_client: MLClient, tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_text("one")
    name = _name("immutable")
    ml_client.models.create_or_update(Model(name=name, path=path, version="1"))
    # Identical content again: accepted (200), same version.
    again = ml_client.models.create_or_update(Model(name=name, path=path, version="1"))
    assert again.version == "1"
    path.write_text("two")
    with pytest.raises(HttpResponseError) as info:
        ml_client.models.create_or_update(Model(name=name, path=path, version="1"))
    assert info.value.status_code == 409


def test_list_view_type_shows_or_hides_archived_versions(ml_client: MLClient,
                                                         tmp_path: Path) -> None:
    # The SDK sends `listViewType=All|ArchivedOnly|ActiveOnly` (REST API spec enum ListViewType);
    # Azure lists the archived version only when asked for it, and by default (ActiveOnly) not.
    path = tmp_path / "m.txt"
    path.write_text("m")
    name = _name("archive")
    for version in ("1", "2", "3"):
        ml_client.models.create_or_update(Model(name=name, path=path, version=version))
    ml_client.models.archive(name, version="2")
    assert ml_client.models.get(name, "2").version == "2"  # archived, still read by version

    def versions(view: str | None = None) -> list[str]:
        kwargs = {} if view is None else {"list_view_type": view}
        return sorted(m.version for m in ml_client.models.list(name, **kwargs))

    assert versions() == ["1", "3"]
    assert versions(ListViewType.ACTIVE_ONLY) == ["1", "3"]
    assert versions(ListViewType.ALL) == ["1", "2", "3"]
    assert versions(ListViewType.ARCHIVED_ONLY) == ["2"]
    # Restored, it is active again.
    ml_client.models.restore(name, version="2")
    assert versions() == ["1", "2", "3"]
    assert versions(ListViewType.ARCHIVED_ONLY) == []


def test_mlflow_model_gets_flavors(ml_client: MLClient, tmp_path: Path) -> None:
    folder = tmp_path / "mlflow_model"
    folder.mkdir()
    (folder / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
        "    python_version: 3.11.7\n"
        "    env:\n      conda: conda.yaml\n  sklearn:\n    sklearn_version: 1.9.1\n"
        "    pickled_model: model.pkl\n"
    )
    (folder / "model.pkl").write_bytes(b"x")
    model = ml_client.models.create_or_update(
        Model(name=_name("mlflow"), path=folder, type=AssetTypes.MLFLOW_MODEL)
    )
    assert set(model.flavors) == {"python_function", "sklearn"}
    assert model.flavors["sklearn"]["sklearn_version"] == "1.9.1"


def test_wrong_client_secret(standin: LocalAzureML) -> None:
    client = make_client(standin.env, secret="not-the-secret")
    with pytest.raises(ClientAuthenticationError) as info:
        client.workspaces.get(standin.env["AZML_LOCAL_WORKSPACE"])
    assert "AADSTS7000215" in str(info.value)


def test_missing_token_is_401(standin: LocalAzureML) -> None:
    import requests

    env = standin.env
    url = (
        f"{standin.url}/subscriptions/{env['AZ_SUBSCRIPTION_ID']}/resourceGroups/"
        f"{env['AZML_LOCAL_RESOURCE_GROUP']}/providers/Microsoft.MachineLearningServices/"
        f"workspaces/{env['AZML_LOCAL_WORKSPACE']}?api-version=2024-10-01-preview"
    )
    for headers in ({}, {"Authorization": "Bearer forged.token.value"}):
        response = requests.get(url, headers=headers, verify=env["REQUESTS_CA_BUNDLE"], timeout=10)
        assert response.status_code == 401
        assert response.json()["error"]["code"] in ("AuthenticationFailed",
                                                      "InvalidAuthenticationToken")


# The REST API spec (Microsoft.MachineLearningServices stable 2024-04-01, mfe.json,
# ModelVersions_CreateOrUpdate) gives a model's name this pattern; the stand-in must accept what
# it allows and refuse the rest.
SPEC_ASSET_NAME = r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$"


@pytest.mark.parametrize("prefix", ["plain", "with_under-score", "7", "x" * 240])
def test_asset_names_the_spec_allows_are_registered(ml_client: MLClient, tmp_path: Path,
                                                    prefix: str) -> None:
    import re

    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    assert re.match(SPEC_ASSET_NAME, name)
    (tmp_path / "m.txt").write_text("m")
    assert ml_client.models.create_or_update(Model(name=name, path=tmp_path / "m.txt")).name == name


@pytest.mark.parametrize("prefix", ["_hidden", ".hidden", "dotted.name", "-dash", "x" * 250])
def test_asset_names_the_spec_refuses_are_400(ml_client: MLClient, tmp_path: Path,
                                              prefix: str) -> None:
    import re

    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    assert not re.match(SPEC_ASSET_NAME, name)
    (tmp_path / "m.txt").write_text("m")
    with pytest.raises(HttpResponseError) as info:
        ml_client.models.create_or_update(Model(name=name, path=tmp_path / "m.txt", version="1"))
    assert info.value.status_code == 400


def test_data_assets_register_version_and_list(ml_client: MLClient, tmp_path: Path,
                                               standin: LocalAzureML) -> None:
    # workspaces/{ws}/data/{name}/versions/{version} (REST API spec 2024-04-01,
    # DataVersions_*): a uri_folder and a uri_file version of local files (the SDK uploads
    # them), an auto-incremented version (the container's nextVersion), the list, and Azure's
    # rules: immutable content, dataType one of uri_file/uri_folder/mltable.
    from azure.ai.ml.entities import Data

    folder = tmp_path / "rows"
    folder.mkdir()
    (folder / "a.csv").write_text("1,2\n")
    name = _name("data")
    first = ml_client.data.create_or_update(
        Data(name=name, version="1", type=AssetTypes.URI_FOLDER, path=str(folder)))
    assert first.type == AssetTypes.URI_FOLDER
    assert "/paths/LocalUpload/" in first.path
    second = ml_client.data.create_or_update(
        Data(name=name, type=AssetTypes.URI_FILE, path=str(folder / "a.csv")))
    assert second.version == "2"
    assert second.type == AssetTypes.URI_FILE
    assert ml_client.data.get(name, version="1").path == first.path
    assert {d.version for d in ml_client.data.list(name=name)} == {"1", "2"}
    assert name in {d.name for d in ml_client.data.list()}
    with pytest.raises(HttpResponseError) as changed:
        ml_client.data.create_or_update(
            Data(name=name, version="1", type=AssetTypes.URI_FILE, path=str(folder / "a.csv")))
    assert changed.value.status_code == 409
    with pytest.raises(HttpResponseError) as missing:
        ml_client.data.get(name, version="9")
    assert missing.value.status_code == 404
    rest = ml_client.data._operation
    body = first._to_rest_object()
    body.properties.data_type = "csv"
    with pytest.raises(HttpResponseError, match="dataType") as bad_type:
        rest.create_or_update(name=name, version="7", workspace_name=ml_client.workspace_name,
                              resource_group_name=ml_client.resource_group_name, body=body)
    assert bad_type.value.status_code == 400
