"""safe_rollout's runtime (runtime/rollout.py): its plan, and the deployment options it shares
with deploy_model, through the real SDK against the stand-in. The rollout itself (steps, mirror,
rollback, SIGTERM) is tested through kfp.local in tests/components/test_rollout.py.
"""

import json
import shutil

import numpy as np
import pytest

from azml_components.runtime.register import azml_register_model
from azml_components.runtime.rollout import azml_check_steps, azml_plan_rollout, azml_safe_rollout
from tests.helpers import data_payload, diabetes_rows, ml_client, workspace, write_custom_model

pytestmark = pytest.mark.timeout(600)


def test_steps_rise_strictly_to_100():
    assert azml_check_steps([10, 50.0, 100]) == [10, 50, 100]
    for steps in ([], [50, 10, 100], [10, 50], [0, 100], [10, 10, 100]):
        with pytest.raises(ValueError, match="traffic_steps"):
            azml_check_steps(steps)


def test_plan_mirrors_then_steps_and_keeps_other_mirrors_off_the_new_deployment():
    moves = azml_plan_rollout({"blue": 100}, {}, "green", [10, 100], 20)
    assert [(m["traffic"], m["mirror"]) for m in moves] == [
        ({"blue": 100}, {"green": 20}),
        ({"blue": 100}, {}),
        ({"blue": 90, "green": 10}, {}),
        ({"blue": 0, "green": 100}, {}),
    ]
    assert moves[0]["smoke"] == [("", "live traffic while mirroring")]
    assert moves[2]["smoke"] == [("green", "green at 10%"), ("", "endpoint at 10%")]


def test_first_deployment_goes_straight_to_100_without_mirroring():
    moves = azml_plan_rollout({}, {}, "blue", [10, 50, 100], 20)
    assert [m["traffic"] for m in moves] == [{"blue": 100}]


def test_bad_smoke_test_input_fails_before_any_request(standin):
    standin.clear_requests()
    with pytest.raises(ValueError, match="^expected_status: 42 must be between 100 and 599"):
        azml_safe_rollout(**workspace(), endpoint_name="rollout-never", deployment_name="green",
                          model_id="azureml:m:1", payload="[[1]]", expected_status=42)
    with pytest.raises(ValueError, match="^auth_mode: 'aad' is not one of"):
        azml_safe_rollout(**workspace(), endpoint_name="rollout-never", deployment_name="green",
                          model_id="azureml:m:1", payload="[[1]]", options={"auth_mode": "aad"})
    assert standin.requests() == []


def test_rollout_takes_the_deployment_options_deploy_model_takes(standin, tmp_path):
    # code_in_model, auth_mode and environment_variables: the options safe_rollout lacked.
    model_dir, code_dir, model = write_custom_model(tmp_path, alpha=4.0)
    shutil.copytree(code_dir, model_dir / "code")
    registered = azml_register_model(**workspace(), model_name="rollout-options",
                                     model_path=str(model_dir))
    result = azml_safe_rollout(
        **workspace(), endpoint_name="rollout-options", deployment_name="blue",
        model_id=registered["asset_id"], payload=data_payload(diabetes_rows()),
        options={"code_in_model": "code", "scoring_script": "score.py",
                 "conda_file": "conda.yaml", "auth_mode": "aml_token",
                 "environment_variables": {"TEAM": "ml", "WORKERS": 2}},
        traffic_steps=[50, 100], timeout_seconds=300,
    )
    assert result["traffic"] == {"blue": 100} and result["auth_mode"] == "aml_token"
    assert result["steps"][0] == f"deployed blue ({registered['asset_id']}) at 0%"
    client = ml_client()
    assert client.online_endpoints.get("rollout-options").auth_mode == "aml_token"
    deployment = client.online_deployments.get("blue", "rollout-options")
    assert {"TEAM": "ml", "WORKERS": "2"}.items() <= deployment.environment_variables.items()
    assert deployment.code_configuration.scoring_script == "score.py"
    # The smoke tests went through the token-authenticated endpoint; so does a fresh call.
    from azml_components.runtime.invoke import azml_invoke_endpoint

    answer = azml_invoke_endpoint(**workspace(), endpoint_name="rollout-options",
                                  payload=json.dumps({"data": diabetes_rows().tolist()}))
    assert answer["problems"] == [], answer
    assert np.allclose(answer["response"], model.predict(diabetes_rows()))
