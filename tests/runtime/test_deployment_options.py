"""The deployment options deploy_model and safe_rollout share (runtime/deployment_options.py):
checked locally, no Azure needed."""

import inspect

import pytest

from azml_components.runtime.deployment_options import (
    azml_deployment_options,
    azml_resolve_environment,
)
from azml_components.runtime.records import AzmlDeploymentOptions

OPTIONS = set(inspect.signature(azml_deployment_options).parameters)


def test_inline_environment_from_code_folder(tmp_path):
    (tmp_path / "conda.yaml").write_text("dependencies:\n  - python=3.11\n  - pip:\n    - joblib\n")
    spec = azml_resolve_environment(str(tmp_path), "conda.yaml", "", "")
    assert spec["conda_file"]["dependencies"][1] == {"pip": ["joblib"]}
    assert spec["image"].startswith("mcr.microsoft.com/azureml/")
    with pytest.raises(ValueError, match="conda_file: 'missing.yml' is not a file"):
        azml_resolve_environment(str(tmp_path), "missing.yml", "", "")
    with pytest.raises(ValueError, match="not both"):
        azml_resolve_environment(str(tmp_path), "conda.yaml", "", "azureml:env:1")


def test_deployment_options_are_one_checked_record(tmp_path):
    (tmp_path / "score.py").write_text("def init(): pass\ndef run(raw): return []\n")
    options = azml_deployment_options(code_path=str(tmp_path), conda_file="dependencies: [pip]",
                                      environment_variables={"WORKERS": 2})
    # The record's fields are the function's parameters: both follow azml_components/settings.py.
    assert isinstance(options, AzmlDeploymentOptions) and set(options._fields) == OPTIONS
    assert options.scoring_script == "score.py"
    assert options.environment_variables == {"WORKERS": "2"}
    # Checking again changes nothing: deploy_model and safe_rollout re-check what they get.
    assert azml_deployment_options(**options._asdict()) == options
    # Without code there is no scoring script to read.
    assert azml_deployment_options().scoring_script == ""


@pytest.mark.parametrize(("options", "message"), [
    ({"instance_count": 0}, "^instance_count: 0 must be at least 1"),
    ({"auth_mode": "aad"}, "^auth_mode: 'aad' is not one of key, aml_token"),
    ({"instance_type": "defaultinstancetype"}, "^instance_type: 'defaultinstancetype' is not "
                                               "an Azure VM size"),
    ({"compute": "aks", "instance_type": "Standard_DS3_v2"},
     "^instance_type: 'Standard_DS3_v2' is not a Kubernetes instance type name"),
    ({"resource_limits": {"cpu": "1"}}, "^resource_limits: applies to Kubernetes deployments"),
    ({"environment_variables": {"": "x"}}, "^environment_variables: keys must be non-empty"),
    ({"code_in_model": "../up"}, "^code_in_model: '../up' must be a relative folder"),
    ({"code_in_model": "code", "scoring_script": ""}, "^scoring_script: required with code_in"),
    ({"code_in_model": "code", "code_path": "x"}, "^code / code_in_model: give at most one"),
    ({"code_path": "/nonexistent"}, "^code: '/nonexistent' is not a folder"),
    ({"environment": "my-env"}, "^environment: 'my-env' must be azureml:"),
    # Issue 21's serving settings: each routed to its own check, with its own field name.
    ({"app_insights_enabled": "yes"}, "^app_insights_enabled: 'yes' must be true or false"),
    ({"description": 3}, "^description: 3 must be a string"),
    ({"endpoint_description": ["x"]}, r"^endpoint_description: \['x'\] must be a string"),
    ({"request_settings": {"request_timeout_ms": 0}}, "^request_settings.request_timeout_ms:"),
    ({"liveness_probe": {"period": 0}}, "^liveness_probe.period:"),
    ({"readiness_probe": {"timeout": 0}}, "^readiness_probe.timeout:"),
    ({"egress_public_network_access": "closed"}, "^egress_public_network_access: 'closed'"),
    ({"public_network_access": "closed"}, "^public_network_access: 'closed'"),
    ({"compute": "aks", "egress_public_network_access": "disabled"},
     "^egress_public_network_access: applies to managed"),
    ({"compute": "aks", "public_network_access": "disabled"},
     "^public_network_access: applies to managed"),
    ({"tags": {"kfp_run_id": "mine"}}, "^tags: 'kfp_run_id' is set by the components"),
    ({"tags": {"kfp_pipeline": "mine"}}, "^tags: 'kfp_pipeline' is set by the components"),
    ({"endpoint_tags": {"created_by": "me"}}, "^endpoint_tags: 'created_by' is set by the"),
    ({"tags": {f"t{i}": "x" for i in range(49)}}, "^tags: 49 tags; at most 48"),
    ({"endpoint_tags": {f"t{i}": "x" for i in range(50)}}, "^endpoint_tags: 50 tags; at most 49"),
    ({"auth_mode": "aad_token"}, "^auth_mode: 'aad_token'"),
    ({"compute": "aks", "autoscale": {"min_instances": 1, "max_instances": 2}},
     "^autoscale: applies to managed online deployments"),
    ({"identity_type": "user_assigned"}, "^user_assigned_identities: required with"),
])
def test_deployment_option_rules(options, message):
    with pytest.raises(ValueError, match=message):
        azml_deployment_options(**options)


def test_defaults_are_azures_usual_single_instance():
    assert azml_deployment_options()._asdict() == {
        "code_path": "", "code_in_model": "", "scoring_script": "", "conda_file": "",
        "image": "", "environment": "", "compute": "", "instance_type": "Standard_DS3_v2",
        "instance_count": 1, "resource_requests": {}, "resource_limits": {}, "auth_mode": "key",
        "environment_variables": {}, "request_settings": {}, "liveness_probe": {},
        "readiness_probe": {}, "app_insights_enabled": False,
        "egress_public_network_access": "enabled", "description": "", "tags": {},
        "endpoint_description": "", "endpoint_tags": {}, "public_network_access": "",
        "autoscale": {}, "scale_settings": {}, "identity_type": "",
        "user_assigned_identities": [], "data_collector": {}}


def test_kfp_numbers_in_autoscale_and_scale_settings_are_whole_again():
    # KFP hands dict inputs over as protobuf Structs: every number a float.
    options = azml_deployment_options(
        compute="", autoscale={"min_instances": 1.0, "max_instances": 3.0, "rules": [
            {"metric": "CpuUtilizationPercentage", "operator": "GreaterThan",
             "threshold": 70.5, "direction": "Increase", "change": 2.0}]})
    assert options.autoscale["min_instances"] == 1 and options.autoscale["max_instances"] == 3
    assert options.autoscale["default_instances"] == 1  # the minimum when not given
    (rule,) = options.autoscale["rules"]
    assert (rule["change"], rule["threshold"], rule["cooldown"]) == (2, 70.5, "PT5M")
    scale = azml_deployment_options(compute="aks-cluster", scale_settings={
        "type": "target_utilization", "max_instances": 4.0}).scale_settings
    assert scale == {"type": "target_utilization", "min_instances": 1, "max_instances": 4,
                     "polling_interval": 1, "target_utilization_percentage": 70}


@pytest.mark.parametrize("given", ["Key", "key", "KEY", "AMLToken", "aml_token", "AmlToken",
                                   "amlToken"])
def test_auth_mode_is_taken_in_any_case_the_sdk_yaml_takes(given):
    # The SDK's YAML schema maps camelCase to snake_case, then compares (camel_to_snake).
    expected = "key" if given.lower() == "key" else "aml_token"
    assert azml_deployment_options(auth_mode=given).auth_mode == expected


def test_serving_settings_are_checked_and_kept_as_given():
    options = azml_deployment_options(
        request_settings={"request_timeout_ms": 90000.0, "max_concurrent_requests_per_instance": 4},
        liveness_probe={"initial_delay": 30}, readiness_probe={"success_threshold": 2},
        egress_public_network_access="Disabled", public_network_access="DISABLED",
        tags={"team": "ml"}, endpoint_tags={"cost": 3},
    )
    assert options.request_settings == {"request_timeout_ms": 90000,
                                        "max_concurrent_requests_per_instance": 4}
    assert options.liveness_probe == {"initial_delay": 30}
    assert options.readiness_probe == {"success_threshold": 2}
    assert (options.egress_public_network_access, options.public_network_access) == (
        "disabled", "disabled")
    assert (options.tags, options.endpoint_tags) == ({"team": "ml"}, {"cost": "3"})


def test_the_data_collector_is_checked_and_kept_with_the_options():
    options = azml_deployment_options(data_collector={
        "collections": {"model_inputs": {"enabled": "True"}}, "sampling_rate": 0.5})
    assert options.data_collector == {"collections": {"model_inputs": {"enabled": True}},
                                      "sampling_rate": 0.5}
    with pytest.raises(ValueError, match=r"^data_collector"):
        azml_deployment_options(data_collector={"collections": {}, "sampling_rate": 2})


def test_the_environment_is_checked_with_the_options(tmp_path):
    (tmp_path / "score.py").write_text("def init(): pass\ndef run(raw): return []\n")
    (tmp_path / "conda.yaml").write_text("dependencies: [pip]\n")
    # A conda file named inside the code folder is found there.
    options = azml_deployment_options(code_path=str(tmp_path), conda_file="conda.yaml")
    assert options.conda_file == "conda.yaml"
    for arguments, message in (
        ({"conda_file": "dependencies: [pip"}, "conda_file: not valid YAML ("),
        ({"environment": "azureml:env:1", "image": "python:3.11"},
         "environment: give a registered environment id, or conda_file/image, not both"),
    ):
        with pytest.raises(ValueError) as raised:
            azml_deployment_options(code_path=str(tmp_path), **arguments)
        assert str(raised.value).startswith(message)


def test_environment_kinds(tmp_path):
    assert azml_resolve_environment("", "", "", "azureml:env:3") == {"environment": "azureml:env:3"}
    arm = ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/"
           "workspaces/ws/environments/env/versions/3")
    assert azml_resolve_environment("", "", "", arm) == {"environment": arm}
    assert azml_resolve_environment("", "", "my/image:1", "") == {"image": "my/image:1"}
    assert azml_resolve_environment("", "", "", "") == {}
    # Content that ends like a file name is still content when it has several lines.
    spec = azml_resolve_environment("", "dependencies: [pip]\n# see env.yml", "img:1", "")
    assert spec == {"conda_file": {"dependencies": ["pip"]}, "image": "img:1"}
    # A file name without a code folder is a path of its own.
    (tmp_path / "env.yml").write_text("dependencies: [python=3.11]\n")
    assert azml_resolve_environment("", str(tmp_path / "env.yml"), "", "")["conda_file"] == {
        "dependencies": ["python=3.11"]}


@pytest.mark.parametrize(("arguments", "message"), [
    (("", "", "", "AzureML:env:1"),
     "environment: 'AzureML:env:1' must be azureml:NAME:VERSION, azureml:NAME@latest or an ARM id"),
    (("", "", "", "/Subscriptions/s"),
     "environment: '/Subscriptions/s' must be azureml:NAME:VERSION, azureml:NAME@latest or an "
     "ARM id"),
    (("", "name: x\n", "", ""),
     "conda_file: must be a conda environment with a 'dependencies' list"),
    (("", "- a\n- b\n", "", ""),
     "conda_file: must be a conda environment with a 'dependencies' list"),
])
def test_whole_environment_messages(arguments, message):
    with pytest.raises(ValueError) as raised:
        azml_resolve_environment(*arguments)
    assert str(raised.value) == message


def test_whole_code_messages(tmp_path):
    from azml_components.runtime.deployment_options import azml_check_code

    with pytest.raises(ValueError) as raised:
        azml_check_code(str(tmp_path), "score.py")
    assert str(raised.value) == ("scoring_script: 'score.py' is not in the code folder (it holds: "
                                 "nothing)")
    for i in range(25):
        (tmp_path / f"f{i:02}.py").write_text("")
    with pytest.raises(ValueError) as raised:
        azml_check_code(str(tmp_path), "score.py")
    listed = ", ".join(f"f{i:02}.py" for i in range(20))
    assert str(raised.value) == (f"scoring_script: 'score.py' is not in the code folder (it "
                                 f"holds: {listed})")
    with pytest.raises(ValueError) as raised:
        azml_check_code(str(tmp_path), "")
    assert str(raised.value) == "scoring_script: required with a code folder"
    # An empty instance type is the kind's default (managed: Standard_DS3_v2).
    assert azml_deployment_options(instance_type="").instance_type == "Standard_DS3_v2"


def test_kubernetes_resources_pass_through_the_options():
    # Requests and limits both reach the options (a mutant that drops requests must fail here).
    options = azml_deployment_options(compute="aks-cluster", instance_type="cpu-large",
                                      resource_requests={"cpu": "500m", "memory": "1Gi"},
                                      resource_limits={"cpu": "2"})
    assert (options.compute, options.instance_type) == ("aks-cluster", "cpu-large")
    assert options.resource_requests == {"cpu": "500m", "memory": "1Gi"}
    assert options.resource_limits == {"cpu": "2"}


def test_an_empty_scoring_script_is_refused_and_one_byte_is_enough(tmp_path):
    # An empty script has no init() or run(): the server would fail only after the upload.
    from azml_components.runtime.deployment_options import azml_check_code

    (tmp_path / "score.py").write_text("")
    with pytest.raises(ValueError) as raised:
        azml_check_code(str(tmp_path), "score.py")
    assert str(raised.value) == "scoring_script: 'score.py' is empty"
    (tmp_path / "score.py").write_text("#")
    azml_check_code(str(tmp_path), "score.py")


def test_a_components_inputs_give_its_options_by_name(tmp_path):
    # A component hands its inputs on as locals(): the settings are picked by name, the code
    # artifact becomes its folder, anything else (outputs, other inputs) is left out.
    from types import SimpleNamespace

    from azml_components.runtime.deployment_options import azml_deployment_options_of

    (tmp_path / "score.py").write_text("def init(): pass\ndef run(raw): return []\n")
    inputs = {"code": SimpleNamespace(path=str(tmp_path)), "conda_file": "dependencies: [pip]",
              "instance_count": 2, "traffic_percent": 50, "endpoint": object()}
    options = azml_deployment_options_of(inputs)
    assert options == azml_deployment_options(
        code_path=str(tmp_path), conda_file="dependencies: [pip]", instance_count=2)
    assert azml_deployment_options_of({"code": None}).code_path == ""
    with pytest.raises(ValueError, match="^instance_count: 0 must be at least 1"):
        azml_deployment_options_of({"code": None, "instance_count": 0})


def test_network_access_is_kept_as_given_or_left_to_azure():
    # A managed endpoint's public_network_access "" keeps an existing endpoint's (Azure's
    # default for a new one); the deployment's egress is Azure's "enabled" unless given.
    options = azml_deployment_options(egress_public_network_access="",
                                      public_network_access="Enabled")
    assert (options.egress_public_network_access, options.public_network_access) == (
        "enabled", "enabled")
    assert azml_deployment_options(compute="aks").public_network_access == ""


def test_user_assigned_identities_are_kept():
    identity = ("/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/"
                "Microsoft.ManagedIdentity/userAssignedIdentities/scoring-id")
    options = azml_deployment_options(identity_type="user_assigned",
                                      user_assigned_identities=[identity])
    assert (options.identity_type, options.user_assigned_identities) == (
        "user_assigned", [identity])
