"""Kubernetes online endpoints in local mode, through the SDK's Kubernetes entities.

The workspace has one attached Kubernetes compute (`aks-cluster`) with two instance types, its
default `defaultinstancetype` and `cpu-large`. Sources of each rule: local/computes.py,
local/endpoints.py (check_kind) and local/deployments.py (check_compute_type).
"""

from __future__ import annotations

import numpy as np
import pytest
from azure.ai.ml import MLClient
from azure.ai.ml.entities import (
    CodeConfiguration,
    Environment,
    KubernetesCompute,
    KubernetesOnlineDeployment,
    KubernetesOnlineEndpoint,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
    ResourceRequirementsSettings,
    ResourceSettings,
)
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.helpers import (
    CONDA_YAML,
    azure_writes,
    data_payload,
    diabetes_rows,
    unique,
    write_custom_model,
)

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def custom_model(ml_client: MLClient, tmp_path_factory) -> dict:
    model_dir, code_dir, model = write_custom_model(tmp_path_factory.mktemp("k8s"), alpha=2.0)
    registered = ml_client.models.create_or_update(Model(name=unique("k8s-model"),
                                                         path=str(model_dir)))
    return {"id": registered.id, "code": str(code_dir), "model": model}


def _deployment(endpoint: str, custom_model: dict, **kwargs) -> KubernetesOnlineDeployment:
    return KubernetesOnlineDeployment(
        name=kwargs.pop("name", "blue"), endpoint_name=endpoint, model=custom_model["id"],
        code_configuration=CodeConfiguration(code=custom_model["code"],
                                             scoring_script="score.py"),
        environment=Environment(image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04",
                                conda_file=str(tmp_conda(custom_model))),
        instance_count=1, **kwargs)


def tmp_conda(custom_model: dict):
    from pathlib import Path

    path = Path(custom_model["code"]) / "conda.yaml"
    assert path.read_text() == CONDA_YAML  # the shared scoring environment
    return path


def test_the_workspace_has_one_kubernetes_compute_with_two_instance_types(ml_client):
    (compute,) = list(ml_client.compute.list(compute_type="kubernetes"))
    assert isinstance(compute, KubernetesCompute) and compute.name == "aks-cluster"
    fetched = ml_client.compute.get("aks-cluster")
    props = fetched.properties
    assert props["defaultInstanceType"] == "defaultinstancetype"
    assert sorted(props["instanceTypes"]) == ["cpu-large", "defaultinstancetype"]
    # Azure's default instance type, as the instance-types article defines it.
    assert props["instanceTypes"]["defaultinstancetype"]["resources"]["limits"]["memory"] == "2Gi"
    with pytest.raises(ResourceNotFoundError):
        ml_client.compute.get("no-such-cluster")


def test_kubernetes_endpoint_serves_scores_and_keeps_its_kind(standin, ml_client, custom_model):
    name = unique("k8s-ep")
    ml_client.online_endpoints.begin_create_or_update(
        KubernetesOnlineEndpoint(name=name, compute="aks-cluster")).result()
    endpoint = ml_client.online_endpoints.get(name)
    assert isinstance(endpoint, KubernetesOnlineEndpoint)
    assert endpoint.compute.endswith("/computes/aks-cluster")
    resources = ResourceRequirementsSettings(requests=ResourceSettings(cpu="500m", memory="1Gi"),
                                             limits=ResourceSettings(cpu="1", memory="2Gi"))
    ml_client.online_deployments.begin_create_or_update(
        _deployment(name, custom_model, resources=resources)).result()
    blue = ml_client.online_deployments.get("blue", name)
    assert isinstance(blue, KubernetesOnlineDeployment)
    # No instance type named: the cluster's default; the resources are kept as sent.
    assert blue.instance_type == "defaultinstancetype"
    assert (blue.resources.requests.cpu, blue.resources.limits.memory) == ("500m", "2Gi")
    # Traffic, keys and scoring as on a managed endpoint.
    endpoint.traffic = {"blue": 100}
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    assert ml_client.online_endpoints.get(name).traffic == {"blue": 100}
    keys = ml_client.online_endpoints.get_keys(name)
    assert keys.primary_key
    rows = diabetes_rows()
    import json
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as request:
        request.write(data_payload(rows))
    answer = json.loads(ml_client.online_endpoints.invoke(name, request_file=request.name))
    assert np.allclose(answer, custom_model["model"].predict(rows))

    # A second deployment on the other instance type; a type the cluster lacks is a 400.
    ml_client.online_deployments.begin_create_or_update(
        _deployment(name, custom_model, name="green", instance_type="cpu-large")).result()
    assert ml_client.online_deployments.get("green", name).instance_type == "cpu-large"
    standin.clear_requests()
    with pytest.raises(HttpResponseError, match="Instance type 'gpu-huge' is not defined on "
                                                "compute 'aks-cluster'"):
        ml_client.online_deployments.begin_create_or_update(
            _deployment(name, custom_model, name="teal", instance_type="gpu-huge")).result()
    # A managed deployment cannot join a Kubernetes endpoint.
    with pytest.raises(HttpResponseError, match="endpointComputeType Managed does not match"):
        k8s = _deployment(name, custom_model, name="teal")
        ml_client.online_deployments.begin_create_or_update(ManagedOnlineDeployment(
            name="teal", endpoint_name=name, model=custom_model["id"],
            code_configuration=k8s.code_configuration, environment=k8s.environment,
            instance_type="Standard_DS3_v2")).result()
    # Mirror traffic is managed-only.
    mirrored = ml_client.online_endpoints.get(name)
    mirrored.mirror_traffic = {"green": 10}
    with pytest.raises(HttpResponseError, match="Mirror traffic is not supported for Kubernetes"):
        ml_client.online_endpoints.begin_create_or_update(mirrored).result()
    # The kind cannot change: the same name as a managed endpoint is refused.
    with pytest.raises(HttpResponseError, match="kind and compute cannot change"):
        ml_client.online_endpoints.begin_create_or_update(
            ManagedOnlineEndpoint(name=name)).result()
    # Nothing changed: each refused write was the only write to the endpoint (assets aside).
    assert [w["status"] for w in azure_writes(standin.requests())
            if "/onlineEndpoints/" in w["path"]] == [400, 400, 400, 400]
    assert {d.name for d in ml_client.online_deployments.list(name)} == {"blue", "green"}
    ml_client.online_endpoints.begin_delete(name).result()


def test_kubernetes_endpoint_needs_an_attached_kubernetes_compute(ml_client):
    with pytest.raises(HttpResponseError, match="Compute 'no-such-cluster' was not found"):
        ml_client.online_endpoints.begin_create_or_update(
            KubernetesOnlineEndpoint(name=unique("k8s-none"), compute="no-such-cluster")).result()


def test_a_managed_endpoint_refuses_kubernetes_deployments_and_resources(ml_client,
                                                                         custom_model):
    name = unique("k8s-managed")
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name=name)).result()
    with pytest.raises(HttpResponseError, match="endpointComputeType Kubernetes does not match"):
        ml_client.online_deployments.begin_create_or_update(
            _deployment(name, custom_model)).result()
    with pytest.raises(HttpResponseError, match="kind and compute cannot change"):
        ml_client.online_endpoints.begin_create_or_update(
            KubernetesOnlineEndpoint(name=name, compute="aks-cluster")).result()
    ml_client.online_endpoints.begin_delete(name).result()


@pytest.mark.parametrize(("requests", "limits", "refused"), [
    ({"cpu": "2"}, {"cpu": "1"}, "containerResourceRequests.cpu: Invalid value: '2': must be less "
                                 "than or equal to cpu limit of '1'"),
    ({"cpu": "500m", "memory": "4Gi"}, {"cpu": "1", "memory": "1Gi"},
     "containerResourceRequests.memory: Invalid value: '4Gi': must be less than or equal to "
     "memory limit of '1Gi'"),
    ({"cpu": "500m"}, {"cpu": "0.25"}, "containerResourceRequests.cpu: Invalid value: '500m': "
                                       "must be less than or equal to cpu limit of '0.25'"),
    ({"memory": "lots"}, None, "containerResourceRequests.memory 'lots' is not a valid "
                               "Kubernetes quantity"),
])
def test_a_request_above_its_limit_is_refused_at_the_put(standin, ml_client, custom_model,
                                                         requests, limits, refused):
    # Kubernetes refuses such a pod ("must be less than or equal to cpu limit", kubernetes.io
    # "Limit Ranges"), so Azure's deployment fails; local mode answers the PUT with a 400.
    name = unique("k8s-over")
    ml_client.online_endpoints.begin_create_or_update(
        KubernetesOnlineEndpoint(name=name, compute="aks-cluster")).result()
    resources = ResourceRequirementsSettings(
        requests=ResourceSettings(**requests),
        limits=ResourceSettings(**limits) if limits else None)
    standin.clear_requests()
    with pytest.raises(HttpResponseError, match=refused):
        ml_client.online_deployments.begin_create_or_update(
            _deployment(name, custom_model, resources=resources)).result()
    puts = [w for w in azure_writes(standin.requests()) if "/onlineEndpoints/" in w["path"]]
    assert [(w["method"], w["status"]) for w in puts] == [("PUT", 400)]
    assert list(ml_client.online_deployments.list(name)) == []
    # The same resources within their limits are accepted (0.25 CPU is 250m).
    if limits and limits.get("cpu") == "0.25":
        fitting = ResourceRequirementsSettings(requests=ResourceSettings(cpu="250m"),
                                               limits=ResourceSettings(cpu="0.25"))
        ml_client.online_deployments.begin_create_or_update(
            _deployment(name, custom_model, resources=fitting)).result()
        assert ml_client.online_deployments.get("blue", name).resources.requests.cpu == "250m"
    ml_client.online_endpoints.begin_delete(name).result()
