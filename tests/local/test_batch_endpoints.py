"""Batch endpoints and deployments through the real SDK: Azure's rules (batch.py, compute.py)."""

from __future__ import annotations

import pytest
from azml_local.fixture import LocalAzureML
from azml_local.resources.batch_endpoints import duration_seconds
from azml_local.resources.compute_clusters import COMPUTE_NAME
from azml_local.resources.kubernetes_computes import CLUSTER as KUBERNETES
from azure.ai.ml import MLClient
from azure.ai.ml.entities import (
    BatchEndpoint,
    CodeConfiguration,
    Environment,
    Model,
    ModelBatchDeployment,
    ModelBatchDeploymentSettings,
)
from azure.ai.ml.exceptions import ValidationException
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.helpers import azure_writes, unique, write_custom_model


@pytest.fixture(scope="module")
def assets(ml_client: MLClient, tmp_path_factory: pytest.TempPathFactory) -> dict:
    model_dir, code_dir, _ = write_custom_model(tmp_path_factory.mktemp("batch-assets"))
    model = ml_client.models.create_or_update(Model(name=unique("bmodel"), path=str(model_dir)))
    env = ml_client.environments.create_or_update(
        Environment(name=unique("benv"), conda_file=str(code_dir / "conda.yaml"),
                    image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"))
    return {"model": model, "env": env, "code": code_dir}


def deployment(endpoint: str, assets: dict, name: str = "", **settings) -> ModelBatchDeployment:
    compute = settings.pop("compute", COMPUTE_NAME)
    settings.setdefault("mini_batch_size", 10)
    return ModelBatchDeployment(
        name=name or unique("bdep"), endpoint_name=endpoint, model=assets["model"],
        code_configuration=CodeConfiguration(code=str(assets["code"]), scoring_script="score.py"),
        environment=assets["env"], compute=compute,
        settings=ModelBatchDeploymentSettings(**settings))


def test_the_workspace_has_one_cluster(ml_client: MLClient) -> None:
    # One compute cluster for batch, beside the attached Kubernetes cluster (computes.py).
    cluster = ml_client.compute.get(COMPUTE_NAME)
    assert cluster.type == "amlcompute" and cluster.max_instances >= 1
    kinds = {c.name: c.type for c in ml_client.compute.list()}
    assert kinds == {COMPUTE_NAME: "amlcompute", "aks-cluster": "kubernetes"}
    with pytest.raises(ResourceNotFoundError):
        ml_client.compute.get("gpu-cluster")


def test_endpoint_and_deployment_lifecycle(ml_client: MLClient, assets: dict) -> None:
    name = unique("bep")
    endpoint = ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=name)).result()
    assert endpoint.auth_mode.replace("_", "").lower() == "aadtoken"
    assert endpoint.scoring_uri.endswith(f"/batchEndpoints/{name}/jobs")
    dep = ml_client.batch_deployments.begin_create_or_update(
        deployment(name, assets, mini_batch_size=2, error_threshold=3,
                   output_file_name="out.csv")).result()
    assert dep.provisioning_state.lower() == "succeeded"
    assert dep.compute.endswith(f"/computes/{COMPUTE_NAME}")
    got = ml_client.batch_deployments.get(dep.name, name)
    # What the deployment left out takes the REST API spec's defaults.
    assert (got.mini_batch_size, got.error_threshold, got.output_file_name) == (2, 3, "out.csv")
    assert got.max_concurrency_per_instance == 1 and got.output_action.lower() == "append_row"
    assert got.retry_settings.max_retries == 3 and got.retry_settings.timeout == 30
    assert [d.name for d in ml_client.batch_deployments.list(name)] == [dep.name]

    endpoint.defaults.deployment_name = dep.name
    endpoint = ml_client.batch_endpoints.begin_create_or_update(endpoint).result()
    assert endpoint.defaults.deployment_name == dep.name
    ml_client.batch_deployments.begin_delete(dep.name, name).result()
    # The default goes with the deployment.
    assert not ml_client.batch_endpoints.get(name).defaults.deployment_name
    ml_client.batch_endpoints.begin_delete(name).result()
    with pytest.raises(ResourceNotFoundError):
        ml_client.batch_endpoints.get(name)


def test_summary_only_description_and_tags(ml_client: MLClient, assets: dict,
                                           standin: LocalAzureML) -> None:
    # summary_only with no file name deploys; the SDK itself refuses a file name with it
    # (BatchDeployment._validate_output_action) before the deployment's PUT, though only after
    # it uploaded the code (deploy_batch_model refuses the pair first). description and tags
    # (BatchDeploymentProperties.description, the tracked resource's tags) read back.
    name = unique("bep")
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=name)).result()
    standin.clear_requests()
    with pytest.raises(ValidationException, match="output_file_name need not to be specified"):
        ml_client.batch_deployments.begin_create_or_update(
            deployment(name, assets, output_action="summary_only", output_file_name="p.csv"))
    assert not [r for r in azure_writes(standin.requests()) if "/batchEndpoints/" in r["path"]]
    dep = deployment(name, assets, output_action="summary_only")
    dep.description, dep.tags = "scores heart data", {"team": "heart"}
    ml_client.batch_deployments.begin_create_or_update(dep).result()
    got = ml_client.batch_deployments.get(dep.name, name)
    assert got.output_action.lower() == "summary_only" and got.output_file_name is None
    assert (got.description, got.tags) == ("scores heart data", {"team": "heart"})
    # ARM's tag rules hold for batch deployments too (tags.py).
    dep.tags = {"a/b": "1"}
    with pytest.raises(HttpResponseError, match="reserved characters") as refused:
        ml_client.batch_deployments.begin_create_or_update(dep)
    assert refused.value.status_code == 400
    assert ml_client.batch_deployments.get(dep.name, name).tags == {"team": "heart"}


def test_default_must_exist(ml_client: MLClient) -> None:
    name = unique("bep")
    endpoint = ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=name)).result()
    endpoint.defaults.deployment_name = "no-such-dep"
    with pytest.raises(HttpResponseError, match="no-such-dep.*does not exist"):
        ml_client.batch_endpoints.begin_create_or_update(endpoint)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"compute": "gpu-cluster"}, "Compute .*gpu-cluster.* was not found"),
        ({"mini_batch_size": 0}, "'miniBatchSize' must be at least 1"),
        ({"error_threshold": -2}, "'errorThreshold' must be at least -1"),
        ({"max_concurrency_per_instance": 0}, "'maxConcurrencyPerInstance' must be at least 1"),
        ({"instance_count": 99}, "more than the compute"),
    ],
)
def test_deployment_rules(ml_client: MLClient, assets: dict, standin: LocalAzureML,
                          settings: dict, message: str) -> None:
    name = unique("bep")
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=name)).result()
    standin.clear_requests()
    with pytest.raises(HttpResponseError, match=message) as caught:
        ml_client.batch_deployments.begin_create_or_update(deployment(name, assets, **settings))
    assert caught.value.status_code == 400
    assert not [r for r in azure_writes(standin.requests()) if "/batchEndpoints/" in r["path"]
                and r["status"] < 300]


def test_a_batch_deployment_on_the_kubernetes_compute_is_one_400(
        ml_client: MLClient, assets: dict, standin: LocalAzureML) -> None:
    # The workspace's attached Kubernetes compute has no scaleSettings: local mode once answered
    # 500 (KeyError('scaleSettings')), which the SDK retries. Now one 400 naming the compute,
    # not retried (batch_endpoints.validate_deployment): the request log shows one PUT.
    name = unique("bep")
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=name)).result()
    for compute in (KUBERNETES, ml_client.compute.get(KUBERNETES).id):
        standin.clear_requests()
        with pytest.raises(HttpResponseError,
                           match=f"'{KUBERNETES}' is of type Kubernetes") as caught:
            ml_client.batch_deployments.begin_create_or_update(
                deployment(name, assets, compute=compute))
        assert caught.value.status_code == 400
        puts = [r for r in standin.requests()
                if r["method"] == "PUT" and "/batchEndpoints/" in r["path"]]
        assert [r["status"] for r in puts] == [400]  # one answer, no retry
    assert list(ml_client.batch_deployments.list(name)) == []


def test_a_custom_model_needs_code_and_environment(ml_client: MLClient, assets: dict) -> None:
    name = unique("bep")
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=name)).result()
    bare = ModelBatchDeployment(name=unique("bdep"), endpoint_name=name, model=assets["model"],
                                compute=COMPUTE_NAME)
    with pytest.raises(HttpResponseError, match="scoring script and an environment"):
        ml_client.batch_deployments.begin_create_or_update(bare)


def _state(entity) -> str:
    state = entity.provisioning_state or ""
    return str(getattr(state, "value", state))


@pytest.mark.parametrize("busy", ["deployment", "endpoint"])
def test_writes_to_a_busy_batch_resource_are_refused_with_409(
        ml_client: MLClient, assets: dict, standin: LocalAzureML, busy: str) -> None:
    # ARM's rule for a resource with an operation running (cited in local/batch.py): a PUT or a
    # DELETE is refused with 409 at once and changes nothing; once the operation has ended the
    # same writes go through.
    name = unique("bep")
    endpoints, deployments = ml_client.batch_endpoints, ml_client.batch_deployments
    endpoints.begin_create_or_update(BatchEndpoint(name=name)).result()
    dep = deployment(name, assets)
    if busy == "deployment":
        standin.lro_fault(path_regex=f"/batchEndpoints/{name}/deployments/{dep.name}$",
                          outcome="Slow", delay_seconds=4)
        poller = deployments.begin_create_or_update(dep)
        assert _state(deployments.get(dep.name, name)) == "Creating"
        writes = [lambda: deployments.begin_create_or_update(dep),
                  lambda: deployments.begin_delete(dep.name, name)]
    else:
        standin.lro_fault(path_regex=f"/batchEndpoints/{name}$", outcome="Slow",
                          delay_seconds=4)
        poller = endpoints.begin_create_or_update(endpoints.get(name))
        assert _state(endpoints.get(name)) == "Updating"
        writes = [lambda: endpoints.begin_create_or_update(BatchEndpoint(name=name)),
                  lambda: endpoints.begin_delete(name)]
    standin.clear_requests()
    for write in writes:
        with pytest.raises(HttpResponseError) as refused:
            write()
        assert refused.value.status_code == 409
        assert "another operation on same entity is already running" in str(refused.value)
    assert [r["status"] for r in azure_writes(standin.requests())
            if "/batchEndpoints/" in r["path"]] == [409, 409]
    poller.result()
    if busy == "deployment":
        assert _state(deployments.get(dep.name, name)) == "Succeeded"
        deployments.begin_delete(dep.name, name).result()
        assert [d.name for d in deployments.list(name)] == []
    else:
        assert _state(endpoints.get(name)) == "Succeeded"
    endpoints.begin_delete(name).result()
    with pytest.raises(ResourceNotFoundError):
        endpoints.get(name)


def test_iso_durations() -> None:
    assert duration_seconds("PT30S") == 30 and duration_seconds("P1DT1H2M3.5S") == 90123.5
    assert duration_seconds("30") is None and duration_seconds("PT") is None
