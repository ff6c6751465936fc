from __future__ import annotations

import time
import uuid

import pytest
from azml_local.fixture import LocalAzureML
from azure.ai.ml import MLClient
from azure.ai.ml.entities import ManagedOnlineEndpoint
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

pytestmark = pytest.mark.timeout(120)


def _endpoint(ml_client: MLClient, auth_mode: str = "key") -> ManagedOnlineEndpoint:
    name = f"ep-{uuid.uuid4().hex[:8]}"
    poller = ml_client.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name=name, auth_mode=auth_mode)
    )
    return poller.result()


def test_endpoint_lifecycle_and_keys(ml_client: MLClient, standin: LocalAzureML) -> None:
    standin.clear_requests()
    endpoint = _endpoint(ml_client)
    assert endpoint.provisioning_state == "Succeeded"
    assert endpoint.scoring_uri.startswith(standin.url)
    puts = [r for r in standin.requests() if r["method"] == "PUT"]
    assert puts[0]["status"] == 201
    assert any("mfeOperationsStatus" in r["path"] for r in standin.requests())

    keys = ml_client.online_endpoints.get_keys(endpoint.name)
    assert keys.primary_key and keys.secondary_key and keys.primary_key != keys.secondary_key
    ml_client.online_endpoints.begin_regenerate_keys(endpoint.name, key_type="secondary").result()
    after = ml_client.online_endpoints.get_keys(endpoint.name)
    assert after.primary_key == keys.primary_key
    assert after.secondary_key != keys.secondary_key

    # Case-insensitive ids, case preserved.
    assert ml_client.online_endpoints.get(endpoint.name.upper()).name == endpoint.name
    assert endpoint.name in [e.name for e in ml_client.online_endpoints.list()]

    ml_client.online_endpoints.begin_delete(endpoint.name).result()
    with pytest.raises(ResourceNotFoundError):
        ml_client.online_endpoints.get(endpoint.name)


def test_aml_token_endpoint(ml_client: MLClient, standin: LocalAzureML) -> None:
    import requests

    endpoint = _endpoint(ml_client, auth_mode="aml_token")
    token = ml_client.online_endpoints.get_keys(endpoint.name)
    assert token.access_token and token.expiry_time_utc > time.time()
    other = _endpoint(ml_client, auth_mode="aml_token")
    foreign = ml_client.online_endpoints.get_keys(other.name).access_token
    # The scoring URI checks the token (no deployment yet: a valid token gets past auth to 404).
    for bearer, status in ((token.access_token, 404), (foreign, 401), ("junk", 401)):
        response = requests.post(
            endpoint.scoring_uri, json={}, timeout=10, verify=standin.env["REQUESTS_CA_BUNDLE"],
            headers={"Authorization": f"Bearer {bearer}"},
        )
        assert response.status_code == status


def test_bad_traffic_is_400(ml_client: MLClient) -> None:
    endpoint = _endpoint(ml_client)
    endpoint.traffic = {"nosuchdeployment": 100}
    with pytest.raises(HttpResponseError) as info:
        ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    assert info.value.status_code == 400
    assert "nosuchdeployment" in str(info.value)


def test_http_fault_is_retried(ml_client: MLClient, standin: LocalAzureML) -> None:
    endpoint = _endpoint(ml_client)
    standin.clear_requests()
    standin.fault("GET", f"/onlineEndpoints/{endpoint.name}$", status=503, retry_after=1)
    started = time.monotonic()
    assert ml_client.online_endpoints.get(endpoint.name).name == endpoint.name
    statuses = [
        r["status"] for r in standin.requests() if r["path"].endswith(f"/{endpoint.name}")
    ]
    assert statuses[:2] == [503, 200]
    assert time.monotonic() - started >= 0.9  # Retry-After honoured


def test_lro_failed_and_slow(ml_client: MLClient, standin: LocalAzureML) -> None:
    name = f"ep-{uuid.uuid4().hex[:8]}"
    standin.lro_fault(f"/onlineEndpoints/{name}$", outcome="Failed")
    with pytest.raises(HttpResponseError) as info:
        ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name=name)).result()
    assert info.value.error.code == "InjectedFailure", info.value
    assert ml_client.online_endpoints.get(name).provisioning_state == "Failed"

    standin.lro_fault(f"/onlineEndpoints/{name}$", outcome="Slow", delay_seconds=3)
    started = time.monotonic()
    poller = ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name=name))
    assert not poller.done()
    assert poller.result().provisioning_state == "Succeeded"
    assert time.monotonic() - started >= 3


def test_public_network_access_is_enabled_or_disabled(ml_client: MLClient) -> None:
    # REST API spec 2024-04-01: publicNetworkAccess is PublicNetworkAccessType (Enabled,
    # Disabled; matched ignoring case); Enabled when not given.
    assert _endpoint(ml_client).public_network_access == "Enabled"
    name = f"ep-{uuid.uuid4().hex[:8]}"
    closed = ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(
        name=name, auth_mode="key", public_network_access="disabled",
        description="private scoring")).result()
    assert (closed.public_network_access, closed.description) == ("Disabled", "private scoring")
    with pytest.raises(HttpResponseError) as info:
        ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(
            name=f"ep-{uuid.uuid4().hex[:8]}", auth_mode="key",
            public_network_access="Sometimes")).result()
    assert info.value.status_code == 400 and "publicNetworkAccess" in str(info.value)
