"""Registries through the real SDK: promote a dev model, read it with MLClient(registry_name=...)
and deploy it in the second workspace (another resource group); reuse and immutability."""

import os
import shutil

import numpy as np
import pytest
from azure.ai.ml import MLClient

from azml_components.runtime import azml_credential
from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.invoke import azml_invoke_endpoint
from azml_components.runtime.register import azml_register_model
from azml_components.runtime.registries import azml_promote_model
from tests.helpers import (
    azure_writes,
    data_payload,
    diabetes_rows,
    unique,
    workspace,
    write_custom_model,
)

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def dev_model(standin, tmp_path_factory):
    """A custom model registered in the dev workspace, its scoring code inside it."""
    root = tmp_path_factory.mktemp("promote")
    model_dir, code_dir, model = write_custom_model(root, alpha=2.5)
    shutil.copytree(code_dir, model_dir / "code")
    registered = azml_register_model(**workspace(), model_name=unique("promote"),
                                     model_path=str(model_dir))
    return registered, model


@pytest.fixture(scope="module")
def promoted(dev_model, standin):
    registered, _ = dev_model
    lineage = {"kfp_run_id": "run-1", "kfp_pipeline": "promote_to_production"}
    return azml_promote_model(**workspace(), model_id=registered["asset_id"],
                              registry_name=standin.registry, lineage=lineage)


def test_promotion_reuses_identical_content(dev_model, promoted, standin):
    registered, _ = dev_model
    name, version = registered["name"], registered["version"]
    assert promoted["asset_id"] == f"azureml://registries/{standin.registry}/models/{name}/" \
                                   f"versions/{version}"
    assert promoted["reused"] is False
    # Read back with the SDK's own registry client: content, lineage, own storage.
    in_registry = MLClient(azml_credential(), registry_name=standin.registry).models.get(
        name, version)
    assert in_registry.id == promoted["asset_id"]
    assert in_registry.properties["azml_source_model_id"] == registered["arm_id"]
    assert in_registry.properties["kfp_run_id"] == "run-1"
    # The registry's own storage: a container of its own, not the workspace's datastore.
    assert "datastores" not in str(in_registry.path)
    assert "azureml-blobstore-" not in str(in_registry.path)
    # The same promotion again: the version already holding it, no write at all.
    standin.clear_requests()
    again = azml_promote_model(**workspace(), model_id=registered["asset_id"],
                               registry_name=standin.registry)
    assert again["reused"] is True and again["asset_id"] == promoted["asset_id"]
    assert azure_writes(standin.requests()) == []


def test_a_promoted_model_deploys_in_another_subscription_with_code_in_the_model(
    dev_model, promoted, standin
):
    # The third workspace (another subscription) deploys the registry's model by its id; the
    # scoring code is read from the model (downloaded through the registry). The promotion
    # pipeline's test deploys it in the second (another resource group).
    _, model = dev_model
    endpoint = unique("prod-reg")
    options = {"scoring_script": "score.py", "conda_file": "conda.yaml", "code_in_model": "code"}
    result = azml_deploy_model(**standin.other_workspace, endpoint_name=endpoint,
                               deployment_name="blue", model_id=promoted["asset_id"],
                               options=options, timeout_seconds=300)
    assert result["model_id"] == promoted["asset_id"]
    answer = azml_invoke_endpoint(**standin.other_workspace, endpoint_name=endpoint,
                                  payload=data_payload(diabetes_rows()))
    assert np.allclose(answer["response"], model.predict(diabetes_rows()))


def test_a_registry_version_is_never_overwritten(dev_model, standin, tmp_path):
    registered, _ = dev_model
    # Another workspace model promoted under a version the registry holds from another source.
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "weights.txt").write_text("other")
    other = azml_register_model(**workspace(), model_name=unique("promote-other"),
                                model_path=str(tmp_path / "m"))
    taken = azml_promote_model(**workspace(), model_id=registered["asset_id"],
                               registry_name=standin.registry,
                               registry_model_name="promote-shared", registry_model_version="7")
    standin.clear_requests()
    with pytest.raises(ValueError, match="registry versions are immutable"):
        azml_promote_model(**workspace(), model_id=other["asset_id"],
                           registry_name=standin.registry,
                           registry_model_name="promote-shared", registry_model_version="7")
    assert azure_writes(standin.requests()) == []
    kept = MLClient(azml_credential(), registry_name=standin.registry).models.get(
        "promote-shared", "7")
    assert kept.properties["azml_source_model_id"] == registered["arm_id"] == \
        taken["source_model_id"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"registry_name": "r!"}, "registry_name: 'r!' is not a registry name"),
        ({"registry_name": "no-such-registry"},
         "registry_name: registry 'no-such-registry' is not reachable"),
        ({"model_id": "azureml:promote-missing:1"}, "is not registered in this workspace"),
        ({"model_id": "azureml://registries/r1/models/m/versions/1"},
         "is a registry model already"),
        ({"registry_model_version": "1/2"}, "registry_model_version"),
    ],
)
def test_bad_promotion_inputs_fail_before_any_write(dev_model, standin, overrides, message):
    registered, _ = dev_model
    arguments = {**workspace(), "model_id": registered["asset_id"],
                 "registry_name": standin.registry, **overrides}
    standin.clear_requests()
    with pytest.raises(ValueError, match=message):
        azml_promote_model(**arguments)
    assert azure_writes(standin.requests()) == []


def test_registry_environment_must_exist(standin):
    from azml_components.runtime.deploy import azml_check_registered_environment

    missing = f"azureml://registries/{standin.registry}/environments/nope/versions/1"
    with pytest.raises(ValueError, match="is not in registry"):
        azml_check_registered_environment(None, missing)
    assert os.environ["REGISTRY_DISCOVERY_ENDPOINT_URL"].startswith("https://127.0.0.1:")


def test_register_straight_into_a_registry_reuses_and_never_overwrites(standin, tmp_path):
    from azml_components.runtime.registries import azml_register_in_registry

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "w.txt").write_text("a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "w.txt").write_text("b")
    name = unique("reg-direct")
    first = azml_register_in_registry(standin.registry, name, str(tmp_path / "a"))
    assert (first["version"], first["reused"]) == ("1", False)
    assert first["asset_id"] == f"azureml://registries/{standin.registry}/models/{name}/versions/1"
    standin.clear_requests()
    again = azml_register_in_registry(standin.registry, name, str(tmp_path / "a"))
    assert (again["version"], again["reused"]) == ("1", True)
    with pytest.raises(ValueError, match="already exists with other content"):
        azml_register_in_registry(standin.registry, name, str(tmp_path / "b"), model_version="1")
    assert azure_writes(standin.requests()) == []
    second = azml_register_in_registry(standin.registry, name, str(tmp_path / "b"))
    assert (second["version"], second["reused"]) == ("2", False)
