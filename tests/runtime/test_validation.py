"""Input rules (runtime/validation.py): pure functions, no Azure needed."""

import pytest

from azml_components.runtime.validation import (
    azml_check_asset_name,
    azml_check_model_id,
    azml_check_online_name,
    azml_check_range,
    azml_string_map,
)


@pytest.mark.parametrize("name", ["abc", "Blue-1", "a" * 32, "e2e-endpoint"])
def test_valid_online_names(name):
    assert azml_check_online_name("endpoint_name", name) == name


@pytest.mark.parametrize("name", ["ab", "1abc", "a" * 33, "has_underscore", "trailing-", ""])
def test_invalid_online_names_name_the_field_and_rule(name):
    with pytest.raises(ValueError, match=r"^deployment_name: .*(3-32 characters|end with)"):
        azml_check_online_name("deployment_name", name)


@pytest.mark.parametrize("name", ["-x", "has space", "", "a" * 256, "x/y"])
def test_invalid_asset_names(name):
    with pytest.raises(ValueError, match="^model_name: "):
        azml_check_asset_name("model_name", name)


def test_range_rejects_bools_and_out_of_range():
    with pytest.raises(ValueError, match="instance_count: 0 must be at least 1"):
        azml_check_range("instance_count", 0, 1)
    with pytest.raises(ValueError, match="traffic_percent: 101 must be between 0 and 100"):
        azml_check_range("traffic_percent", 101, 0, 100)
    with pytest.raises(ValueError, match="whole number"):
        azml_check_range("instance_count", True, 1)


@pytest.mark.parametrize("model_id", [
    "azureml:churn:3",
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/"
    "workspaces/ws/models/churn/versions/3",
])
def test_model_ids_that_name_a_version(model_id):
    assert azml_check_model_id(model_id) == model_id


@pytest.mark.parametrize("model_id", ["churn", "azureml:churn", "azureml:churn@latest", ""])
def test_model_ids_without_a_version_are_refused(model_id):
    with pytest.raises(ValueError, match="^model_id: .* must be azureml:NAME:VERSION"):
        azml_check_model_id(model_id)


def test_string_maps_keep_strings_and_store_other_values_as_json():
    assert azml_string_map("tags", None) == {}
    assert azml_string_map("tags", {"a": "x", "b": 0.5, "c": [1]}) == {
        "a": "x", "b": "0.5", "c": "[1]"}
    with pytest.raises(ValueError, match="^tags: keys must be non-empty strings"):
        azml_string_map("tags", {" ": "x"})
    with pytest.raises(ValueError, match="^properties: must be a mapping"):
        azml_string_map("properties", ["a"])
