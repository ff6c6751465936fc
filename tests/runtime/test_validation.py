"""Input rules (runtime/validation.py): pure functions, no Azure needed."""

import pytest

from azml_components.runtime.validation import (
    azml_check_asset_name,
    azml_check_asset_version,
    azml_check_choice,
    azml_check_file_name,
    azml_check_model_id,
    azml_check_online_name,
    azml_check_range,
    azml_check_registry_name,
    azml_check_resource_group,
    azml_check_workspace_name,
    azml_parse_registry_asset,
    azml_string_map,
    azml_whole_numbers,
)


@pytest.mark.parametrize("name", ["abc", "Blue-1", "a" * 32, "e2e-endpoint"])
def test_valid_online_names(name):
    assert azml_check_online_name("endpoint_name", name) == name


@pytest.mark.parametrize("name", ["ab", "1abc", "a" * 33, "has_underscore", "trailing-", ""])
def test_invalid_online_names_name_the_field_and_rule(name):
    with pytest.raises(ValueError, match=r"^deployment_name: .*(3-32 characters|end with)"):
        azml_check_online_name("deployment_name", name)


@pytest.mark.parametrize("name", ["abc", "Z-9", "z" * 32])
def test_online_names_come_back_unchanged(name):
    assert azml_check_online_name("deployment_name", name) is name


@pytest.mark.parametrize("name", [None, 7, ["blue"]])
def test_online_names_must_be_strings(name):
    with pytest.raises(ValueError, match="^endpoint_name: .* is not a valid name"):
        azml_check_online_name("endpoint_name", name)


# The REST API spec's pattern for model names: ^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$
@pytest.mark.parametrize("name", ["m", "7", "churn-model_v2", "A" * 255])
def test_valid_asset_names(name):
    assert azml_check_asset_name("model_name", name) is name


@pytest.mark.parametrize("name", ["-x", "_x", ".x", "has space", "", "a" * 256, "x/y", "x.y",
                                  "x:1", None, 3])
def test_invalid_asset_names(name):
    with pytest.raises(ValueError, match=r"^model_name: .* is not a valid name; it must be "
                                         r"1-255 characters, start with a letter or digit"):
        azml_check_asset_name("model_name", name)


@pytest.mark.parametrize("version", ["1", "1.0.2", "v2_rc-1", "9" * 255])
def test_valid_versions(version):
    assert azml_check_asset_version("model_version", version) is version


@pytest.mark.parametrize("version", ["", ".1", "_1", "-1", "1 0", "1/2", "1:2", "9" * 256, 1])
def test_invalid_versions(version):
    with pytest.raises(ValueError, match="^model_version: .* is not a valid version"):
        azml_check_asset_version("model_version", version)


# ARM: 1-90 of letters, digits, '-', '_', '.', '(' and ')', not ending in '.'.
@pytest.mark.parametrize("name", ["rg", "my-rg_1.(dev)", "x" * 90, "(x)", "_rg", ".rg", "r"])
def test_valid_resource_groups(name):
    assert azml_check_resource_group("resource_group", name) is name


@pytest.mark.parametrize("name", ["", "rg.", "x" * 91, "has space", "a/b", "a:b", None])
def test_invalid_resource_groups(name):
    with pytest.raises(ValueError, match="^resource_group: .* is not a valid resource group"):
        azml_check_resource_group("resource_group", name)


# Azure ML's workspace name pattern: ^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$
@pytest.mark.parametrize("name", ["ws1", "my_ws-2", "W" * 33, "123"])
def test_valid_workspace_names(name):
    assert azml_check_workspace_name("workspace_name", name) is name


@pytest.mark.parametrize("name", ["ws", "W" * 34, "-ws", "_ws", "my.ws", "my ws", "", None])
def test_invalid_workspace_names(name):
    with pytest.raises(ValueError, match="^workspace_name: .* is not a valid workspace name"):
        azml_check_workspace_name("workspace_name", name)


def test_choices():
    assert azml_check_choice("auth_mode", "key", ["key", "aml_token"]) == "key"
    with pytest.raises(ValueError, match="^auth_mode: 'Key' is not one of key, aml_token$"):
        azml_check_choice("auth_mode", "Key", ["key", "aml_token"])


def test_range_rejects_bools_and_out_of_range():
    with pytest.raises(ValueError, match="^instance_count: 0 must be at least 1$"):
        azml_check_range("instance_count", 0, 1)
    with pytest.raises(ValueError, match="^traffic_percent: 101 must be between 0 and 100$"):
        azml_check_range("traffic_percent", 101, 0, 100)
    with pytest.raises(ValueError, match="^traffic_percent: -1 must be between 0 and 100$"):
        azml_check_range("traffic_percent", -1, 0, 100)
    for value in (True, 1.0, "1", None):
        with pytest.raises(ValueError, match=r"^instance_count: .* must be a whole number$"):
            azml_check_range("instance_count", value, 1)


@pytest.mark.parametrize(("value", "low", "high"), [(0, 0, 100), (100, 0, 100), (1, 1, None),
                                                    (10**9, 1, None)])
def test_range_bounds_are_inclusive(value, low, high):
    assert azml_check_range("x", value, low, high) == value


@pytest.mark.parametrize("model_id", [
    "azureml:churn:3",
    "azureml:churn.v2:1.0",
    "/SUBSCRIPTIONS/s/resourcegroups/rg/providers/microsoft.machinelearningservices/"
    "workspaces/ws/models/churn/versions/3",
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/"
    "workspaces/ws/models/churn/versions/3",
])
def test_model_ids_that_name_a_version(model_id):
    assert azml_check_model_id(model_id) == model_id


@pytest.mark.parametrize("model_id", [
    "churn", "azureml:churn", "azureml:churn@latest", "", "azureml:churn:3:4", "azureml::3",
    "azureml:-x:3", "azureml:x:.3", "xazureml:churn:3", "azureml:churn:3 ",
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/"
    "workspaces/ws/models/churn",
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/"
    "workspaces/ws/models/churn/versions/3/extra",
    "x/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/"
    "workspaces/ws/models/churn/versions/3",
])
def test_model_ids_without_a_version_are_refused(model_id):
    with pytest.raises(ValueError, match="^model_id: .* must be azureml:NAME:VERSION"):
        azml_check_model_id(model_id)


def test_string_maps_keep_strings_and_store_other_values_as_json():
    assert azml_string_map("tags", None) == {}
    assert azml_string_map("tags", {"a": "x", "b": 0.5, "c": [1], "d": {"z": 1, "y": 2},
                                    "e": True}) == {
        "a": "x", "b": "0.5", "c": "[1]", "d": '{"y": 2, "z": 1}', "e": "true"}
    with pytest.raises(ValueError, match="^tags: keys must be non-empty strings, got 3$"):
        azml_string_map("tags", {3: "x"})
    with pytest.raises(ValueError, match="^tags: keys must be non-empty strings"):
        azml_string_map("tags", {" ": "x"})
    with pytest.raises(ValueError, match="^properties: must be a mapping"):
        azml_string_map("properties", ["a"])


@pytest.mark.parametrize(("check", "field", "value", "message"), [
    (azml_check_online_name, "endpoint_name", "ab",
     "endpoint_name: 'ab' is not a valid name; it must be 3-32 characters, start with a letter, "
     "and contain only letters, digits and hyphens"),
    (azml_check_online_name, "endpoint_name", "abc-",
     "endpoint_name: 'abc-' is not a valid name; it must not end with a hyphen"),
    (azml_check_asset_name, "model_name", "x.y",
     "model_name: 'x.y' is not a valid name; it must be 1-255 characters, start with a letter "
     "or digit, and contain only letters, digits, '-' and '_'"),
    (azml_check_asset_version, "model_version", ".1",
     "model_version: '.1' is not a valid version; it must be 1-255 characters, start with a "
     "letter or digit, and contain only letters, digits, '-', '_' and '.'"),
    (azml_check_resource_group, "resource_group", "rg.",
     "resource_group: 'rg.' is not a valid resource group name; it must be 1-90 letters, digits, "
     "'-', '_', '.', '(' or ')', and not end with '.'"),
    (azml_check_workspace_name, "workspace_name", "w",
     "workspace_name: 'w' is not a valid workspace name; it must be 3-33 characters, start with "
     "a letter or digit, and contain only letters, digits, '-' and '_'"),
    (azml_check_model_id, None, "churn",
     "model_id: 'churn' must be azureml:NAME:VERSION, a model version's ARM id or a registry "
     "model azureml://registries/REGISTRY/models/NAME/versions/VERSION"),
], ids=lambda v: v.__name__ if callable(v) else None)
def test_whole_messages_name_the_field_and_the_rule(check, field, value, message):
    with pytest.raises(ValueError) as raised:
        check(value) if field is None else check(field, value)
    assert str(raised.value) == message


@pytest.mark.parametrize("value", ["azureml:Churn:V2", "azureml:CHURN:1"])
def test_model_ids_keep_upper_case(value):
    assert azml_check_model_id(value) == value


def test_upper_case_versions_and_workspaces():
    assert azml_check_asset_version("v", "V1.0") == "V1.0"
    assert azml_check_workspace_name("w", "MyWorkspace") == "MyWorkspace"


@pytest.mark.parametrize("name", ["predictions.csv", "Scores.CSV", "_x", "9.parquet", "a-b_c.d",
                                  "a" * 255])
def test_valid_file_names(name):
    assert azml_check_file_name("output_file_name", name) == name


@pytest.mark.parametrize("name", ["out/p.csv", ".hidden", "-x", "", "a" * 256, "p q.csv", 3])
def test_invalid_file_names_name_the_field_and_rule(name):
    with pytest.raises(ValueError, match=r"^output_file_name: .* must be a file name \(letters, "
                                         r"digits, '_', '-', '\.'; no folders\)$"):
        azml_check_file_name("output_file_name", name)


def test_whole_numbers_from_kfp_become_ints_at_any_depth():
    # KFP hands a dict or list input over as a protobuf Struct: every number a float.
    given = {"a": 1.0, "b": [2.0, {"c": 3.0}], "d": 1.5, "e": "x", "f": True, "g": None}
    converted = azml_whole_numbers(given)
    assert converted == {"a": 1, "b": [2, {"c": 3}], "d": 1.5, "e": "x", "f": True, "g": None}
    assert type(converted["a"]) is int and type(converted["b"][1]["c"]) is int
    assert type(converted["d"]) is float and converted["f"] is True
    assert azml_whole_numbers([4.0]) == [4] and type(azml_whole_numbers(5.0)) is int


# Registry names: the REST spec's RegistryNameParameter (registries.json, stable 2024-04-01),
# ^[a-zA-Z0-9][a-zA-Z0-9\-_]{2,32}$.
@pytest.mark.parametrize("name", ["abc", "ABC", "my-registry_1", "1ab", "A" + "b" * 32])
def test_registry_names_azure_accepts(name):
    assert azml_check_registry_name("registry_name", name) == name


@pytest.mark.parametrize("name", ["ab", "a" * 34, "-abc", "_abc", "my registry", "r!x", "", None])
def test_registry_names_azure_refuses_name_the_field_and_rule(name):
    with pytest.raises(ValueError, match=r"^registry_name: .* is not a registry name: 3-33 "
                       r"characters, letters, digits, '-' and '_', starting with a letter or "
                       r"digit$"):
        azml_check_registry_name("registry_name", name)


def test_registry_asset_ids_parse_by_kind():
    model = "azureml://registries/shared-reg/models/churn/versions/3"
    environment = "azureml://registries/shared-reg/environments/sklearn/versions/1"
    assert azml_parse_registry_asset(model) == ("shared-reg", "churn", "3")
    assert azml_parse_registry_asset(environment, "environments") == (
        "shared-reg", "sklearn", "1")
    assert azml_parse_registry_asset(environment) is None  # models by default
    assert azml_parse_registry_asset("azureml:churn:3") is None
    assert azml_parse_registry_asset(model + "/extra") is None


def test_a_registry_model_version_is_a_model_id_and_an_environment_is_not():
    model = "azureml://registries/shared-reg/models/churn/versions/3"
    assert azml_check_model_id(model) == model
    with pytest.raises(ValueError, match=r"^model_id: .* registry model azureml://registries/"):
        azml_check_model_id("azureml://registries/shared-reg/environments/sklearn/versions/1")
