"""The data collector's no-op comparison (runtime/data_collection.py): a live deployment read
back through the SDK's own REST model against the entity deploy_model would write."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from azure.ai.ml.entities import DataCollector

from azml_components.runtime.data_collection import (
    azml_check_data_collector,
    azml_data_collector_entity,
    azml_same_data_collector,
)

BASE = {"collections": {"model_inputs": {"enabled": "True"}, "model_outputs": {"enabled": "True"}}}
ASSETS = "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/" \
         "workspaces/w/data/"


def _live(settings: dict):
    # What Azure stores and the SDK reads back: REST spelling (Enabled), the data asset ids the
    # SDK registered, the sampling rate on every collection.
    if not settings:
        return SimpleNamespace(data_collector=None)
    rest = azml_data_collector_entity(azml_check_data_collector(settings))._to_rest_object()
    for name, collection in rest.collections.items():
        collection.data_collection_mode = collection.data_collection_mode.capitalize()
        collection.data_id = collection.data_id or f"{ASSETS}ep-blue-{name}/versions/1"
    return SimpleNamespace(data_collector=DataCollector._from_rest_object(rest))


def _wanted(settings: dict):
    entity = azml_data_collector_entity(azml_check_data_collector(settings))
    return SimpleNamespace(endpoint_name="ep", name="blue", data_collector=entity)


CHANGES = {
    "sampling-rate": {**BASE, "sampling_rate": 0.5},
    "rolling-rate": {**BASE, "rolling_rate": "Day"},
    "a-collection-added": {"collections": {**BASE["collections"],
                                           "request": {"enabled": "True"}}},
    "a-collection-disabled": {"collections": {**BASE["collections"],
                                              "model_outputs": {"enabled": "False"}}},
    "captured-headers": {**BASE, "request_logging": {"capture_headers": ["x-client"]}},
    "another-data-asset": {"collections": {**BASE["collections"], "model_inputs": {
        "enabled": "True", "data": {"name": "mine", "path":
                                    "azureml://datastores/workspaceblobstore/paths/m"}}}},
    "none-at-all": {},
}


def test_the_same_data_collector_is_unchanged() -> None:
    assert azml_same_data_collector(_live(BASE), _wanted(BASE))
    # Azure's defaults: sampling 1.0 and rolling Hour are what a collector without them has
    explicit = {**BASE, "sampling_rate": 1.0, "rolling_rate": "hour"}
    assert azml_same_data_collector(_live(BASE), _wanted(explicit))
    assert azml_same_data_collector(_live({}), _wanted({}))


@pytest.mark.parametrize("changed", CHANGES.values(), ids=CHANGES.keys())
def test_a_changed_data_collector_is_written(changed: dict) -> None:
    assert not azml_same_data_collector(_live(BASE), _wanted(changed))
    assert not azml_same_data_collector(_live(changed), _wanted(BASE))


def test_kfp_numbers_in_a_data_collector_keep_their_meaning() -> None:
    # KFP hands dict inputs over as protobuf Structs: every number a float.
    checked = azml_check_data_collector({
        "collections": {"model_inputs": {"enabled": True, "data": {
            "name": "mine", "path": "azureml://datastores/workspaceblobstore/paths/m",
            "version": 2.0}}},
        "sampling_rate": 1.0})
    assert checked["collections"]["model_inputs"] == {"enabled": True, "data": {
        "name": "mine", "path": "azureml://datastores/workspaceblobstore/paths/m",
        "version": "2"}}
    assert checked["sampling_rate"] == 1.0
