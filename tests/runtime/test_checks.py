"""The runtime's input checks and traffic planning: pure functions, no Azure needed."""

import pytest

from azml_components.runtime import (
    azml_check_asset_name,
    azml_check_online_name,
    azml_check_range,
    azml_check_traffic,
    azml_credential,
    azml_plan_traffic,
    azml_resolve_environment,
    azml_validate_model_source,
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


def test_model_source_rules(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="exactly one"):
        azml_validate_model_source("", "", "custom_model")
    with pytest.raises(ValueError, match="exactly one"):
        azml_validate_model_source(str(empty), "azureml://x", "custom_model")
    with pytest.raises(ValueError, match="is empty"):
        azml_validate_model_source(str(empty), "", "custom_model")
    with pytest.raises(ValueError, match="missing"):
        azml_validate_model_source(str(tmp_path / "nope"), "", "custom_model")
    with pytest.raises(ValueError, match="model_type: 'onnx' is not one of"):
        azml_validate_model_source(str(empty), "", "onnx")
    with pytest.raises(ValueError, match="model_uri: 's3://b/k' must start with"):
        azml_validate_model_source("", "s3://b/k", "custom_model")
    (empty / "model.pkl").write_bytes(b"x")
    with pytest.raises(ValueError, match="MLmodel"):
        azml_validate_model_source(str(empty), "", "mlflow_model")
    assert azml_validate_model_source(str(empty), "", "custom_model") == str(empty)


def test_plan_traffic_keeps_proportions_and_sums_to_100():
    assert azml_plan_traffic({"blue": 100}, "green", 10) == {"blue": 90, "green": 10}
    plan = azml_plan_traffic({"a": 50, "b": 50}, "c", 33)
    assert sum(plan.values()) == 100 and plan["c"] == 33 and abs(plan["a"] - plan["b"]) <= 1
    assert azml_plan_traffic({}, "blue", 100) == {"blue": 100}
    assert azml_plan_traffic({"blue": 0}, "green", 0) == {"blue": 0, "green": 0}
    assert azml_plan_traffic({"Blue": 100}, "blue", 100) == {"blue": 100}


def test_plan_traffic_refuses_a_share_nobody_can_take():
    with pytest.raises(ValueError, match="traffic_percent: 40 would leave 60%"):
        azml_plan_traffic({}, "blue", 40)


@pytest.mark.parametrize(
    ("traffic", "mirror", "message"),
    [
        ({"blue": 90}, None, "sum to 100"),
        ({"blue": 100, "ghost": 0}, None, "'ghost' does not exist"),
        ({"blue": 100}, {"green": 60}, "at most 50"),
        ({"blue": 50, "green": 50}, {"green": 10}, "cannot also receive mirrored"),
        ({"blue": 100}, {"green": 10, "red": 10}, "only one deployment"),
        ({"blue": -5, "green": 105}, None, "between 0 and 100"),
    ],
)
def test_traffic_rules(traffic, mirror, message):
    with pytest.raises(ValueError, match=message):
        azml_check_traffic(traffic, mirror, ["blue", "green", "red"])


def test_inline_environment_from_code_folder(tmp_path):
    (tmp_path / "conda.yaml").write_text("dependencies:\n  - python=3.11\n  - pip:\n    - joblib\n")
    spec = azml_resolve_environment(str(tmp_path), "conda.yaml", "", "")
    assert spec["conda_file"]["dependencies"][1] == {"pip": ["joblib"]}
    assert spec["image"].startswith("mcr.microsoft.com/azureml/")
    with pytest.raises(ValueError, match="conda_file: 'missing.yml' is not a file"):
        azml_resolve_environment(str(tmp_path), "missing.yml", "", "")
    with pytest.raises(ValueError, match="not both"):
        azml_resolve_environment(str(tmp_path), "conda.yaml", "", "azureml:env:1")


def test_partial_service_principal_names_what_is_missing():
    with pytest.raises(ValueError, match="missing AZ_CLIENT_ID, AZ_CLIENT_SECRET"):
        azml_credential({"AZ_TENANT_ID": "t"})


def test_no_service_principal_means_default_chain_without_instance_metadata():
    from azure.identity import DefaultAzureCredential

    credential = azml_credential({"AZML_EXCLUDE_MANAGED_IDENTITY": "1"})
    assert isinstance(credential, DefaultAzureCredential)
    kinds = {type(c).__name__ for c in credential.credentials}
    assert "ManagedIdentityCredential" not in kinds and "EnvironmentCredential" in kinds


def test_artifact_or_string_inputs(tmp_path):
    from kfp import dsl

    from azml_components.runtime import (
        azml_endpoint_name_input,
        azml_model_id_input,
        azml_payload_input,
    )

    registered = dsl.Model(uri=str(tmp_path / "m"), metadata={"asset_id": "azureml:m:3"})
    assert azml_model_id_input(registered, "") == "azureml:m:3"
    assert azml_model_id_input(None, "azureml:x:1") == "azureml:x:1"
    with pytest.raises(ValueError, match="give exactly one"):
        azml_model_id_input(registered, "azureml:x:1")
    with pytest.raises(ValueError, match="no asset_id"):
        azml_model_id_input(dsl.Model(uri=str(tmp_path / "m"), metadata={}), "")
    body = tmp_path / "request.json"
    body.write_text('{"data": [[1]]}')
    assert azml_payload_input("", dsl.Dataset(uri=str(body))) == '{"data": [[1]]}'
    with pytest.raises(ValueError, match="payload / payload_file"):
        azml_payload_input("", None)
    endpoint = dsl.Artifact(uri="https://x", metadata={"endpoint_name": "ep-1"})
    assert azml_endpoint_name_input(endpoint, "") == "ep-1"
    with pytest.raises(ValueError, match="endpoint / endpoint_name"):
        azml_endpoint_name_input(endpoint, "ep-2")


def _wait_while_signalled(handler):
    # A one-second operation with SIGTERM arriving in the middle, under `handler`.
    import os
    import signal
    import threading
    import time

    from azml_components.runtime import azml_wait

    previous = signal.signal(signal.SIGTERM, handler)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        return azml_wait("a slow operation", lambda: time.sleep(1.0) or "done", 30)
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_interrupts_a_wait():
    with pytest.raises(InterruptedError, match="a slow operation: cancelled by SIGTERM"):
        _wait_while_signalled(lambda signum, frame: None)


def test_an_ignored_sigterm_stays_ignored_during_a_wait():
    import signal

    assert _wait_while_signalled(signal.SIG_IGN) == "done"
