"""The deployment options deploy_model and safe_rollout share (runtime/deployment_options.py):
checked locally, no Azure needed."""

import inspect

import pytest

from azml_components.runtime.deployment_options import (
    azml_deployment_options,
    azml_resolve_environment,
)

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


def test_deployment_options_are_one_checked_dict(tmp_path):
    (tmp_path / "score.py").write_text("def init(): pass\ndef run(raw): return []\n")
    options = azml_deployment_options(code_path=str(tmp_path), conda_file="dependencies: [pip]",
                                      environment_variables={"WORKERS": 2})
    assert set(options) == OPTIONS
    assert options["scoring_script"] == "score.py"
    assert options["environment_variables"] == {"WORKERS": "2"}
    # Checking again changes nothing: deploy_model and safe_rollout re-check what they get.
    assert azml_deployment_options(**options) == options
    # Without code there is no scoring script to read.
    assert azml_deployment_options()["scoring_script"] == ""


@pytest.mark.parametrize(("options", "message"), [
    ({"instance_count": 0}, "^instance_count: 0 must be at least 1"),
    ({"auth_mode": "aad"}, "^auth_mode: 'aad' is not one of key, aml_token"),
    ({"instance_type": ""}, "^instance_type: required"),
    ({"environment_variables": {"": "x"}}, "^environment_variables: keys must be non-empty"),
    ({"code_in_model": "../up"}, "^code_in_model: '../up' must be a relative folder"),
    ({"code_in_model": "code", "scoring_script": ""}, "^scoring_script: required with code_in"),
    ({"code_in_model": "code", "code_path": "x"}, "^code / code_in_model: give at most one"),
    ({"code_path": "/nonexistent"}, "^code: '/nonexistent' is not a folder"),
    ({"environment": "my-env"}, "^environment: 'my-env' must be azureml:"),
])
def test_deployment_option_rules(options, message):
    with pytest.raises(ValueError, match=message):
        azml_deployment_options(**options)
