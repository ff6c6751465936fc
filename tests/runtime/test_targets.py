"""Managed or Kubernetes (runtime/targets.py): input rules before any call to Azure, and the
compute, its instance types and the endpoint's kind read before any write (local mode)."""

import pytest

from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.targets import azml_check_target
from tests.helpers import azure_writes, unique, workspace


def test_managed_defaults_and_kubernetes_defaults():
    assert azml_check_target("", "", None, None) == {
        "compute": "", "instance_type": "Standard_DS3_v2", "resource_requests": {},
        "resource_limits": {}}
    # Kubernetes: an empty instance type is the cluster's default, found when it is read.
    assert azml_check_target("aks-cluster", "", {"cpu": "500m", "memory": "1Gi"},
                             {"cpu": 2, "gpu": "1"}) == {
        "compute": "aks-cluster", "instance_type": "", "resource_requests": {
            "cpu": "500m", "memory": "1Gi"}, "resource_limits": {"cpu": "2", "gpu": "1"}}
    # A request equal to its limit, in other units, is fine (1024Mi is 1Gi, 0.5 is 500m).
    assert azml_check_target("aks-cluster", "", {"cpu": "0.5", "memory": "1024Mi"},
                             {"cpu": "500m", "memory": "1Gi"})["resource_requests"] == {
        "cpu": "0.5", "memory": "1024Mi"}


@pytest.mark.parametrize(("arguments", "message"), [
    (("", "cpu-large", None, None),
     "instance_type: 'cpu-large' is not an Azure VM size; managed online deployments take one "
     "such as Standard_DS3_v2 (a Kubernetes instance type needs compute)"),
    (("aks-cluster", "Standard_DS3_v2", None, None),
     "instance_type: 'Standard_DS3_v2' is not a Kubernetes instance type name (lower-case "
     "letters, digits, '-' and '.'); a Kubernetes deployment takes one of the cluster's instance "
     "types, not a VM size; empty means the cluster's default"),
    (("", "", {"cpu": "1"}, None),
     "resource_requests: applies to Kubernetes deployments only (give compute); a managed "
     "deployment is sized by its instance_type (VM size)"),
    (("", "", None, {"memory": "1Gi"}),
     "resource_limits: applies to Kubernetes deployments only (give compute); a managed "
     "deployment is sized by its instance_type (VM size)"),
    (("aks-cluster", "", {"disk": "1Gi"}, None),
     "resource_requests: 'disk' is not one of cpu, memory, gpu"),
    (("aks-cluster", "", None, {"memory": "lots"}),
     "resource_limits: memory 'lots' is not a Kubernetes quantity (e.g. cpu '500m' or '2', "
     "memory '1Gi', gpu '1')"),
    (("aks-cluster", "", None, {"gpu": "0.5"}),
     "resource_limits: gpu '0.5' is not a Kubernetes quantity (e.g. cpu '500m' or '2', memory "
     "'1Gi', gpu '1')"),
    (("aks-cluster", "", ["cpu"], None),
     "resource_requests: must be a mapping such as {'cpu': '500m', 'memory': '1Gi'}"),
    (("aks-cluster", "", {"cpu": "2", "memory": "1Gi"}, {"cpu": "1", "memory": "2Gi"}),
     "resource_requests: cpu '2' is more than the cpu limit '1' (resource_limits); Kubernetes "
     "needs each request to be at most its limit"),
    (("aks-cluster", "", {"memory": "4Gi"}, {"memory": "1Gi"}),
     "resource_requests: memory '4Gi' is more than the memory limit '1Gi' (resource_limits); "
     "Kubernetes needs each request to be at most its limit"),
    (("aks-cluster", "", {"cpu": "500m"}, {"cpu": 0.25}),
     "resource_requests: cpu '500m' is more than the cpu limit '0.25' (resource_limits); "
     "Kubernetes needs each request to be at most its limit"),
    (("my/cluster", "", None, None),
     "compute: 'my/cluster' must be the name of a Kubernetes compute attached to the "
     "workspace, or empty for a managed online endpoint"),
])
def test_inputs_of_the_wrong_kind_are_refused(arguments, message):
    with pytest.raises(ValueError) as raised:
        azml_check_target(*arguments)
    assert str(raised.value) == message


@pytest.mark.parametrize(("options", "message"), [
    ({"compute": "no-such-cluster"}, "compute: 'no-such-cluster' is not attached to the "
                                     "workspace"),
    ({"compute": "aks-cluster", "instance_type": "gpu-huge"},
     "instance_type: 'gpu-huge' is not an instance type of compute 'aks-cluster' (it has: "
     "cpu-large, defaultinstancetype)"),
])
def test_the_cluster_is_read_before_any_write(standin, options, message):
    standin.clear_requests()
    with pytest.raises(ValueError) as raised:
        azml_deploy_model(**workspace(), endpoint_name=unique("k8s-none"),
                          deployment_name="blue", model_id="azureml:nothing:1",
                          options=options)
    assert str(raised.value) == message
    assert azure_writes(standin.requests()) == []


@pytest.mark.parametrize(("created_on", "asked", "message"), [
    ("aks-cluster", "", "compute: endpoint {name!r} is a Kubernetes endpoint on compute "
                        "'aks-cluster'; an endpoint's kind and compute cannot change after "
                        "creation (asked: 'managed')"),
    ("", "aks-cluster", "compute: endpoint {name!r} is managed; an endpoint's kind and compute "
                        "cannot change after creation (asked: 'aks-cluster')"),
])
def test_an_endpoint_keeps_its_kind(standin, created_on, asked, message):
    from azml_components.runtime.targets import azml_new_endpoint
    from tests.helpers import ml_client

    client = ml_client()
    name = unique("k8s-kind")
    client.online_endpoints.begin_create_or_update(
        azml_new_endpoint(name, "key", {}, created_on)).result()
    standin.clear_requests()
    with pytest.raises(ValueError) as raised:
        azml_deploy_model(**workspace(), endpoint_name=name, deployment_name="blue",
                          model_id="azureml:nothing:1", options={"compute": asked})
    assert str(raised.value) == message.format(name=name)
    assert azure_writes(standin.requests()) == []
    client.online_endpoints.begin_delete(name).result()


def test_no_instance_type_means_the_clusters_default(standin):
    # Microsoft's "Create and manage instance types": a Kubernetes deployment that names no
    # instance type gets the cluster's default (local mode's aks-cluster: defaultinstancetype).
    from azml_components.runtime.targets import azml_resolve_target
    from tests.helpers import ml_client

    target = azml_check_target("aks-cluster", "", None, None)
    resolved = azml_resolve_target(ml_client(), unique("k8s-default"), target, None)
    assert (resolved["kind"], resolved["instance_type"]) == ("kubernetes", "defaultinstancetype")
    named = azml_resolve_target(ml_client(), unique("k8s-named"),
                                azml_check_target("aks-cluster", "cpu-large", None, None), None)
    assert named["instance_type"] == "cpu-large"


@pytest.mark.parametrize(("text", "value"), [
    ("500m", "0.5"), ("0.5", "0.5"), (".25", "0.25"), ("2", "2"), ("1.5", "1.5"),
    ("1k", "1000"), ("1M", "1000000"), ("2G", "2000000000"), ("1T", "1000000000000"),
    ("1Ki", "1024"), ("1.5Mi", "1572864"), ("4Gi", "4294967296"), ("1Ti", "1099511627776"),
])
def test_kubernetes_quantities_have_their_values(text, value):
    # kubernetes.io, "Resource Management for Pods and Containers": m is a thousandth, k M G T
    # powers of 1000, Ki Mi Gi Ti powers of 1024.
    from decimal import Decimal

    from azml_components.runtime.targets import azml_quantity

    assert azml_quantity(text) == Decimal(value)


def test_resource_values_compare_quantities_by_value():
    from azml_components.runtime.targets import azml_quantity, azml_resource_values

    assert azml_resource_values({"requests": {"cpu": "0.5", "memory": "1Gi"}}) == \
        azml_resource_values({"requests": {"cpu": "500m", "memory": "1024Mi"}})
    assert azml_resource_values({"limits": {"cpu": "1"}}) != \
        azml_resource_values({"limits": {"cpu": "1m"}})
    with pytest.raises(ValueError):
        azml_quantity("lots")
