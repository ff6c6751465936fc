"""set_traffic's and the deletes' runtime (runtime/endpoints.py) through the real SDK against the
stand-in. Each test owns its endpoint."""

import pytest
from azure.core.exceptions import ResourceNotFoundError

from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.endpoints import (
    azml_delete_deployment,
    azml_delete_endpoint,
    azml_update_traffic,
)
from azml_components.runtime.register import azml_register_model
from tests.helpers import azure_writes, ml_client, unique, workspace, write_custom_model

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def model(standin, tmp_path_factory) -> dict:
    model_dir, code_dir, _ = write_custom_model(tmp_path_factory.mktemp("model"), alpha=3.0)
    registered = azml_register_model(**workspace(), model_name=unique("endpoints"),
                                     model_path=str(model_dir))
    return {"model_id": registered["asset_id"],
            "options": {"code_path": str(code_dir), "conda_file": "conda.yaml"}}


def _endpoint(model, prefix: str, *deployments: str) -> str:
    # The first deployment takes all live traffic, the others join at 0%.
    name = unique(prefix)
    for i, deployment in enumerate(deployments):
        azml_deploy_model(**workspace(), endpoint_name=name, deployment_name=deployment,
                          traffic_percent=0 if i else 100, timeout_seconds=300, **model)
    return name


def _state(endpoint: str) -> tuple:
    entity = ml_client().online_endpoints.get(endpoint)
    names = {d.name for d in ml_client().online_deployments.list(endpoint)}
    return dict(entity.traffic or {}), dict(entity.mirror_traffic or {}), names


def test_bad_traffic_maps_are_rejected_before_any_write(standin, model):
    endpoint = _endpoint(model, "rules", "blue")
    bad = [
        ({"blue": 90}, None, "^traffic: live traffic must sum to 100 .*got 90"),
        ({"blue": 100, "ghost": 0}, None, "^traffic: deployment 'ghost' does not exist"),
        ({"blue": 100}, {"blue": 10}, r"^mirror_traffic\[blue\]: .* cannot also receive mirrored"),
        ({"blue": 100}, {"nope": 60}, "^mirror_traffic: deployment 'nope' does not exist"),
        ({"Bad_Name": 100}, None, "^traffic deployment: 'Bad_Name' is not a valid name"),
        ({"blue": 100.5}, None, r"^traffic\[blue\]: 100.5 must be a whole number"),
        ("[100]", None, "^traffic: must map deployment names"),
    ]
    for traffic, mirror, message in bad:
        standin.clear_requests()
        with pytest.raises(ValueError, match=message):
            azml_update_traffic(**workspace(), endpoint_name=endpoint, traffic=traffic,
                                mirror_traffic=mirror)
        assert azure_writes(standin.requests()) == [], traffic
    with pytest.raises(ValueError, match="^endpoint_name: 'ab' is not a valid name"):
        azml_update_traffic(**workspace(), endpoint_name="ab", traffic={"blue": 100})
    with pytest.raises(ValueError, match="^timeout_seconds: 0 must be at least 1"):
        azml_update_traffic(**workspace(), endpoint_name=endpoint, traffic={"blue": 100},
                            timeout_seconds=0)
    # Names are matched ignoring case, as Azure does; the deployment keeps its own spelling.
    moved = azml_update_traffic(**workspace(), endpoint_name=endpoint, traffic={"BLUE": 100})
    assert moved["traffic"] == {"blue": 100}


def test_set_traffic_writes_exactly_the_maps_it_reports(model):
    endpoint = _endpoint(model, "traffic", "blue", "green")
    moved = azml_update_traffic(**workspace(), endpoint_name=endpoint,
                                traffic={"blue": 30, "green": 70})
    assert moved["traffic_before"] == {"blue": 100, "green": 0}
    assert moved["mirror_traffic_before"] == {}
    assert moved["traffic"] == {"blue": 30, "green": 70} == _state(endpoint)[0]
    assert moved["endpoint_name"] == endpoint
    assert moved["endpoint_id"].lower().endswith(f"/onlineendpoints/{endpoint}")
    assert moved["scoring_uri"].startswith("https://127.0.0.1:")
    # Deployments left out get 0% (the SDK sends no 0% entries); a mirror map replaces the mirror.
    moved = azml_update_traffic(**workspace(), endpoint_name=endpoint, traffic={"green": 100},
                                mirror_traffic={"blue": 20})
    assert (moved["traffic"], moved["mirror_traffic"]) == ({"green": 100}, {"blue": 20})
    assert _state(endpoint)[:2] == ({"green": 100}, {"blue": 20})
    # No mirror map keeps the endpoint's mirror.
    moved = azml_update_traffic(**workspace(), endpoint_name=endpoint, traffic='{"green": 100}')
    assert moved["mirror_traffic_before"] == moved["mirror_traffic"] == {"blue": 20}
    assert _state(endpoint)[1] == {"blue": 20}
    # An empty one removes it.
    moved = azml_update_traffic(**workspace(), endpoint_name=endpoint, traffic={"green": 100},
                                mirror_traffic={})
    assert moved["mirror_traffic"] == {} and _state(endpoint)[1] == {}


def test_set_traffic_refuses_mirror_traffic_on_a_kubernetes_endpoint(standin, model):
    # "Mirroring isn't currently supported for Kubernetes online endpoints" (Microsoft's
    # safe-rollout article): refused before the PUT Azure would answer with a 400.
    kube = {**model, "options": {**model["options"], "compute": "aks-cluster"}}
    endpoint = _endpoint(kube, "k8s-mirror", "blue", "green")
    standin.clear_requests()
    with pytest.raises(ValueError, match=f"^mirror_traffic: endpoint '{endpoint}' is a "
                                         "Kubernetes online endpoint \\(compute 'aks-cluster'\\)"):
        azml_update_traffic(**workspace(), endpoint_name=endpoint, traffic={"blue": 100},
                            mirror_traffic={"green": 10})
    assert azure_writes(standin.requests()) == []
    assert _state(endpoint)[:2] == ({"blue": 100, "green": 0}, {})
    # Live traffic (and an empty or all-zero mirror map) is set as on a managed endpoint.
    moved = azml_update_traffic(**workspace(), endpoint_name=endpoint, traffic={"green": 100},
                                mirror_traffic={"blue": 0})
    assert (moved["traffic"], moved["mirror_traffic"]) == ({"green": 100}, {})
    assert _state(endpoint)[0]["green"] == 100


def test_set_traffic_on_a_missing_endpoint_fails_naming_it(model):
    missing = unique("missing")
    with pytest.raises(RuntimeError, match=f"reading endpoint '{missing}' failed: .*404"):
        azml_update_traffic(**workspace(), endpoint_name=missing, traffic={"blue": 100})


def test_delete_refuses_live_traffic_and_removes_a_mirror_first(standin, model):
    endpoint = _endpoint(model, "delete", "blue", "green")
    azml_update_traffic(**workspace(), endpoint_name=endpoint, traffic={"blue": 100},
                        mirror_traffic={"green": 20})
    standin.clear_requests()
    with pytest.raises(ValueError, match="^deployment_name: 'blue' still takes 100% of live "
                                         "traffic; move it"):
        azml_delete_deployment(**workspace(), endpoint_name=endpoint, deployment_name="blue")
    assert azure_writes(standin.requests()) == []
    # Azure refuses to delete a deployment that receives mirrored traffic: the mirror goes first.
    assert azml_delete_deployment(**workspace(), endpoint_name=endpoint,
                                  deployment_name="GREEN") is True
    assert _state(endpoint) == ({"blue": 100}, {}, {"blue"})
    # Gone already: nothing to do, or an error when it must exist.
    assert azml_delete_deployment(**workspace(), endpoint_name=endpoint,
                                  deployment_name="green") is False
    with pytest.raises(ValueError, match="^deployment_name: 'green' does not exist on endpoint"):
        azml_delete_deployment(**workspace(), endpoint_name=endpoint, deployment_name="green",
                               missing_ok=False)
    assert azml_delete_deployment(**workspace(), endpoint_name=unique("none"),
                                  deployment_name="green") is False


def test_delete_endpoint_removes_it_with_its_deployments(model):
    endpoint = _endpoint(model, "delete-ep", "blue")
    assert azml_delete_endpoint(**workspace(), endpoint_name=endpoint) is True
    with pytest.raises(ResourceNotFoundError):
        ml_client().online_endpoints.get(endpoint)
    assert azml_delete_endpoint(**workspace(), endpoint_name=endpoint) is False
    with pytest.raises(ValueError, match=f"^endpoint_name: '{endpoint}' does not exist"):
        azml_delete_endpoint(**workspace(), endpoint_name=endpoint, missing_ok=False)
