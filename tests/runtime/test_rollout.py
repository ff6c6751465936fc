"""safe_rollout's runtime (runtime/rollout.py): its plan, the deployment options it shares
with deploy_model, and a fresh rollout after one was SIGKILLed, through the real SDK against the
stand-in. The rollout itself (steps, mirror, rollback, SIGTERM, the exit task after a SIGKILL)
is tested through kfp.local in tests/components/test_rollout.py.
"""

import datetime
import json
import shutil
import time

import numpy as np
import pytest

from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.invoke import azml_invoke_endpoint
from azml_components.runtime.register import azml_register_model
from azml_components.runtime.rollout import azml_check_steps, azml_plan_rollout, azml_safe_rollout
from azml_components.runtime.rollout_state import azml_read_rollout
from tests.crash import kill_rollout_mid_shift
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
    assert result["steps"][:2] == ["recorded the rollout of blue on rollout-options",
                                   f"deployed blue ({registered['asset_id']}) at 0%"]
    client = ml_client()
    assert client.online_endpoints.get("rollout-options").auth_mode == "aml_token"
    deployment = client.online_deployments.get("blue", "rollout-options")
    assert {"TEAM": "ml", "WORKERS": "2"}.items() <= deployment.environment_variables.items()
    assert deployment.code_configuration.scoring_script == "score.py"
    # The smoke tests went through the token-authenticated endpoint; so does a fresh call.
    answer = azml_invoke_endpoint(**workspace(), endpoint_name="rollout-options",
                                  payload=json.dumps({"data": diabetes_rows().tolist()}))
    assert answer["problems"] == [], answer
    assert np.allclose(answer["response"], model.predict(diabetes_rows()))


def test_fresh_rollout_after_a_sigkill_mid_shift_undoes_it_then_rolls_out(standin, tmp_path):
    # A rollout killed (SIGKILL) at 90/10, then, once its record expired, a new run's rollout
    # on the same endpoint: it puts exactly the previous traffic back, removes the half-made
    # deployment and the record, then completes its own rollout (same deployment name).
    model_dir, code_dir, model = write_custom_model(tmp_path / "blue", alpha=3.0)
    green_dir, _, green_model = write_custom_model(tmp_path / "green", alpha=30.0)
    ids = {name: azml_register_model(**workspace(), model_name=f"crash-fresh-{name}",
                                     model_path=str(path))["asset_id"]
           for name, path in (("blue", model_dir), ("green", green_dir))}
    options = {"code_path": str(code_dir), "scoring_script": "score.py",
               "conda_file": "conda.yaml"}
    azml_deploy_model(**workspace(), endpoint_name="crash-fresh", deployment_name="blue",
                      model_id=ids["blue"], options=options, timeout_seconds=300)
    client = ml_client()
    before = client.online_endpoints.get("crash-fresh")
    assert (before.traffic, before.mirror_traffic or {}) == ({"blue": 100}, {})
    rollout = {**workspace(), "endpoint_name": "crash-fresh", "deployment_name": "green",
               "model_id": ids["green"], "options": options,
               "payload": data_payload(diabetes_rows()), "traffic_steps": [10, 50, 100]}
    # timeout_seconds=10: the record counts as alive for 30 s after its last write.
    kill_rollout_mid_shift(standin, {**rollout, "pipeline_run_id": "run-killed",
                                     "timeout_seconds": 10}, tmp_path / "killed.log")
    crashed = client.online_endpoints.get("crash-fresh")
    assert crashed.traffic == {"blue": 90, "green": 10}
    record = azml_read_rollout("crash-fresh", crashed.tags)
    assert (record["owner"], record["deployment"], record["traffic"], record["mirror"]) == (
        "run-killed", "green", {"blue": 100}, {})
    expires = datetime.datetime.fromisoformat(record["expires"].replace("Z", "+00:00"))
    time.sleep(max(0.0, (expires - datetime.datetime.now(datetime.timezone.utc))
                   .total_seconds()) + 1)

    standin.clear_requests()
    result = azml_safe_rollout(**{**rollout, "traffic_steps": [100]},
                               pipeline_run_id="run-fresh", timeout_seconds=300)
    recovered = result["recovered"]
    assert (recovered["undone"], recovered["owner"]) == (True, "run-killed")
    assert (recovered["traffic"], recovered["mirror_traffic"]) == ({"blue": 100}, {})
    # What the new rollout found after the undo: exactly the traffic before the crash.
    assert (result["traffic_before"], result["mirror_traffic_before"]) == ({"blue": 100}, {})
    assert result["steps"][0].startswith("undid the unfinished rollout of green (owner run-kil")
    writes = [(r["method"], r["path"].rsplit("/", 2)[-2:]) for r in standin.requests()
              if r["method"] in ("PUT", "DELETE") and "/onlineEndpoints/" in r["path"]]
    assert writes[:4] == [("PUT", ["onlineEndpoints", "crash-fresh"]),   # traffic back
                          ("DELETE", ["deployments", "green"]),          # half-made one gone
                          ("PUT", ["onlineEndpoints", "crash-fresh"]),   # record removed
                          ("PUT", ["onlineEndpoints", "crash-fresh"])]   # the new record
    after = client.online_endpoints.get("crash-fresh")
    assert {k: v for k, v in after.traffic.items() if v} == {"green": 100}
    assert azml_read_rollout("crash-fresh", after.tags) is None
    assert {d.name for d in client.online_deployments.list("crash-fresh")} == {"blue", "green"}
    answer = azml_invoke_endpoint(**workspace(), endpoint_name="crash-fresh",
                                  payload=data_payload(diabetes_rows()))
    assert np.allclose(answer["response"], green_model.predict(diabetes_rows()))
    assert not np.allclose(answer["response"], model.predict(diabetes_rows()))
