"""Endpoint tags in local mode: changed in place through the SDK's PUT, and refused as Azure
refuses them (see azml-local/azml_local/resources/tags.py for the sources of each limit)."""

from __future__ import annotations

import uuid

import pytest
from azml_local.fixture import LocalAzureML
from azure.ai.ml import MLClient
from azure.ai.ml.entities import ManagedOnlineEndpoint
from azure.core.exceptions import HttpResponseError

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def endpoint(ml_client: MLClient) -> ManagedOnlineEndpoint:
    name = f"tags-{uuid.uuid4().hex[:8]}"
    return ml_client.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name=name, auth_mode="key", tags={"team": "ml"})
    ).result()


def _put_tags(ml_client: MLClient, name: str, tags: dict) -> ManagedOnlineEndpoint:
    endpoint = ml_client.online_endpoints.get(name)
    endpoint.tags = tags
    return ml_client.online_endpoints.begin_create_or_update(endpoint).result()


def test_tags_change_in_place_and_a_put_replaces_the_map(ml_client, endpoint, standin):
    standin.clear_requests()
    _put_tags(ml_client, endpoint.name, {"team": "ml", "stage": "blue"})
    assert ml_client.online_endpoints.get(endpoint.name).tags == {"team": "ml", "stage": "blue"}
    # What the SDK sends for a tag change: a PUT of the whole endpoint (no PATCH).
    methods = {r["method"] for r in standin.requests() if "/onlineEndpoints/" in r["path"]}
    assert "PUT" in methods and "PATCH" not in methods
    _put_tags(ml_client, endpoint.name, {"stage": "green"})
    assert ml_client.online_endpoints.get(endpoint.name).tags == {"stage": "green"}
    _put_tags(ml_client, endpoint.name, {})
    assert not ml_client.online_endpoints.get(endpoint.name).tags


def test_the_limits_hold_exactly_at_the_edge(ml_client, endpoint):
    edge = {f"t{i:02d}": "v" for i in range(49)}
    edge["n" * 512] = "v" * 256
    assert len(_put_tags(ml_client, endpoint.name, edge).tags) == 50


@pytest.mark.parametrize(("tags", "message"), [
    ({f"t{i:02d}": "v" for i in range(51)}, "at most 50 tags"),
    ({"n" * 513: "v"}, "the limit is 512"),
    ({"long": "v" * 257}, "the limit is 256"),
    ({"a/b": "v"}, "reserved characters"),
    ({"a%b": "v"}, "reserved characters"),
    ({"a\tb": "v"}, "reserved characters"),
])
def test_tags_azure_refuses_are_a_400_and_change_nothing(
        ml_client, endpoint, tags, message, standin: LocalAzureML):
    before = ml_client.online_endpoints.get(endpoint.name).tags
    with pytest.raises(HttpResponseError, match=message) as info:
        _put_tags(ml_client, endpoint.name, tags)
    assert info.value.status_code == 400
    assert ml_client.online_endpoints.get(endpoint.name).tags == before
