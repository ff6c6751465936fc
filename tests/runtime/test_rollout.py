"""safe_rollout's runtime (runtime/rollout.py): its plan, the deployment options it shares
with deploy_model, and a fresh rollout after one was SIGKILLed, through the real SDK against the
stand-in. The rollout itself (steps, mirror, rollback, SIGTERM, the exit task after a SIGKILL)
is tested through kfp.local in tests/components/test_rollout.py.
"""

import datetime
import json
import shutil
import signal
import time

import numpy as np
import pytest

from azml_components.runtime import deploy
from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.invoke import azml_invoke_endpoint
from azml_components.runtime.register import azml_register_model
from azml_components.runtime.rollout import azml_check_steps, azml_plan_rollout, azml_safe_rollout
from azml_components.runtime.rollout_state import azml_read_rollout
from tests import child_call
from tests.crash import kill_rollout_mid_shift
from tests.helpers import (
    azure_writes,
    data_payload,
    diabetes_rows,
    ml_client,
    unique,
    workspace,
    write_custom_model,
)

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


def test_plan_keeps_old_proportions_and_an_existing_mirror_elsewhere():
    moves = azml_plan_rollout({"a": 60, "b": 40}, {"c": 10}, "new", [50, 100], 0)
    assert [(m["traffic"], m["mirror"]) for m in moves] == [
        ({"a": 30, "b": 20, "new": 50}, {"c": 10}),
        ({"a": 0, "b": 0, "new": 100}, {"c": 10}),
    ]
    assert [m["log"] for m in moves] == [f"traffic {m['traffic']}" for m in moves]
    # Mirroring ends by putting the endpoint's own mirror back, then the steps drop it for new.
    moves = azml_plan_rollout({"a": 100}, {"new": 5}, "new", [100], 30)
    assert [(m["traffic"], m["mirror"]) for m in moves] == [
        ({"a": 100}, {"new": 30}), ({"a": 100}, {"new": 5}), ({"a": 0, "new": 100}, {})]
    assert [m["smoke"] for m in moves][1:] == [[], [("new", "new at 100%"),
                                                   ("", "endpoint at 100%")]]


def test_steps_accept_kfp_floats_and_name_a_bad_item():
    assert azml_check_steps([25.0, 100.0]) == [25, 100]
    assert azml_check_steps([100]) == [100]
    for steps, message in (([10.5, 100], r"^traffic_steps item: 10.5 must be a whole number"),
                           ([50, 101], "^traffic_steps item: 101 must be between 1 and 100"),
                           (None, r"^traffic_steps: None must rise strictly")):
        with pytest.raises(ValueError, match=message):
            azml_check_steps(steps)


def test_bad_smoke_test_input_fails_before_any_request(standin):
    standin.clear_requests()
    with pytest.raises(ValueError, match="^expected_status: 42 must be between 100 and 599"):
        azml_safe_rollout(**workspace(), endpoint_name="rollout-never", deployment_name="green",
                          model_id="azureml:m:1", payload="[[1]]", expected_status=42)
    with pytest.raises(ValueError, match="^auth_mode: 'aad' is not one of"):
        azml_safe_rollout(**workspace(), endpoint_name="rollout-never", deployment_name="green",
                          model_id="azureml:m:1", payload="[[1]]", options={"auth_mode": "aad"})
    assert standin.requests() == []


def test_rollout_takes_the_deployment_options_deploy_model_takes(standin, tmp_path, monkeypatch):
    # code_in_model, auth_mode and environment_variables: the options safe_rollout lacked.
    # The model is downloaded once for its code (the pre-write checks), not again by deploy_model.
    downloads = []
    download = deploy.azml_code_from_model
    monkeypatch.setattr(deploy, "azml_code_from_model",
                        lambda *args: downloads.append(args[1].name) or download(*args))
    model_dir, code_dir, model = write_custom_model(tmp_path, alpha=4.0)
    shutil.copytree(code_dir, model_dir / "code")
    endpoint = unique("rollout-options")
    registered = azml_register_model(**workspace(), model_name=endpoint,
                                     model_path=str(model_dir))
    result = azml_safe_rollout(
        **workspace(), endpoint_name=endpoint, deployment_name="blue",
        model_id=registered["asset_id"], payload=data_payload(diabetes_rows()),
        options={"code_in_model": "code", "scoring_script": "score.py",
                 "conda_file": "conda.yaml", "auth_mode": "aml_token",
                 "environment_variables": {"TEAM": "ml", "WORKERS": 2}},
        traffic_steps=[50, 100], timeout_seconds=300,
    )
    assert result["traffic"] == {"blue": 100} and result["auth_mode"] == "aml_token"
    assert downloads == [endpoint]
    assert result["steps"][:2] == [f"recorded the rollout of blue on {endpoint}",
                                   f"deployed blue ({registered['asset_id']}) at 0%"]
    client = ml_client()
    assert client.online_endpoints.get(endpoint).auth_mode == "aml_token"
    deployment = client.online_deployments.get("blue", endpoint)
    assert {"TEAM": "ml", "WORKERS": "2"}.items() <= deployment.environment_variables.items()
    assert deployment.code_configuration.scoring_script == "score.py"
    # The smoke tests went through the token-authenticated endpoint; so does a fresh call.
    answer = azml_invoke_endpoint(**workspace(), endpoint_name=endpoint,
                                  payload=json.dumps({"data": diabetes_rows().tolist()}))
    assert answer["problems"] == [], answer
    assert np.allclose(answer["response"], model.predict(diabetes_rows()))


def test_fresh_rollout_after_a_sigkill_mid_shift_undoes_it_then_rolls_out(standin, tmp_path):
    # A rollout killed (SIGKILL) at 90/10, then, once its record expired, a new run's rollout
    # on the same endpoint: it puts exactly the previous traffic back, removes the half-made
    # deployment and the record, then completes its own rollout (same deployment name).
    endpoint = unique("crash-fresh")
    model_dir, code_dir, model = write_custom_model(tmp_path / "blue", alpha=3.0)
    green_dir, _, green_model = write_custom_model(tmp_path / "green", alpha=30.0)
    ids = {name: azml_register_model(**workspace(), model_name=f"{endpoint}-{name}",
                                     model_path=str(path))["asset_id"]
           for name, path in (("blue", model_dir), ("green", green_dir))}
    options = {"code_path": str(code_dir), "scoring_script": "score.py",
               "conda_file": "conda.yaml"}
    azml_deploy_model(**workspace(), endpoint_name=endpoint, deployment_name="blue",
                      model_id=ids["blue"], options=options, timeout_seconds=300)
    client = ml_client()
    before = client.online_endpoints.get(endpoint)
    assert (before.traffic, before.mirror_traffic or {}) == ({"blue": 100}, {})
    rollout = {**workspace(), "endpoint_name": endpoint, "deployment_name": "green",
               "model_id": ids["green"], "options": options,
               "payload": data_payload(diabetes_rows()), "traffic_steps": [10, 50, 100]}
    # timeout_seconds=10: the record counts as alive for 30 s after its last write.
    kill_rollout_mid_shift(standin, {**rollout, "pipeline_run_id": "run-killed",
                                     "timeout_seconds": 10}, tmp_path / "killed.log")
    crashed = client.online_endpoints.get(endpoint)
    assert crashed.traffic == {"blue": 90, "green": 10}
    record = azml_read_rollout(endpoint, crashed.tags)
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
    assert writes[:4] == [("PUT", ["onlineEndpoints", endpoint]),   # traffic back
                          ("DELETE", ["deployments", "green"]),          # half-made one gone
                          ("PUT", ["onlineEndpoints", endpoint]),   # record removed
                          ("PUT", ["onlineEndpoints", endpoint])]   # the new record
    after = client.online_endpoints.get(endpoint)
    assert {k: v for k, v in after.traffic.items() if v} == {"green": 100}
    assert azml_read_rollout(endpoint, after.tags) is None
    assert {d.name for d in client.online_deployments.list(endpoint)} == {"blue", "green"}
    answer = azml_invoke_endpoint(**workspace(), endpoint_name=endpoint,
                                  payload=data_payload(diabetes_rows()))
    assert np.allclose(answer["response"], green_model.predict(diabetes_rows()))
    assert not np.allclose(answer["response"], model.predict(diabetes_rows()))


@pytest.fixture(scope="module")
def models(standin, tmp_path_factory) -> dict:
    made = {}
    for name, alpha in (("blue", 0.5), ("green", 6.0)):
        model_dir, code_dir, model = write_custom_model(tmp_path_factory.mktemp(name),
                                                        alpha=alpha)
        registered = azml_register_model(**workspace(), model_name=unique(f"rollout-{name}"),
                                         model_path=str(model_dir))
        made[name] = {"model_id": registered["asset_id"], "model": model,
                      "options": {"code_path": str(code_dir), "conda_file": "conda.yaml"}}
    return made


def _endpoint_with_blue(models, prefix: str) -> str:
    endpoint = unique(prefix)
    azml_deploy_model(**workspace(), endpoint_name=endpoint, deployment_name="blue",
                      timeout_seconds=300, model_id=models["blue"]["model_id"],
                      options=models["blue"]["options"])
    return endpoint


def _rollout_arguments(models, endpoint: str, **overrides) -> dict:
    return {**workspace(), "endpoint_name": endpoint, "deployment_name": "green",
            "payload": data_payload(diabetes_rows()), "timeout_seconds": 300,
            "model_id": models["green"]["model_id"], "options": models["green"]["options"],
            **overrides}


def _blue_alone(endpoint: str) -> None:
    client = ml_client()
    assert client.online_endpoints.get(endpoint).traffic == {"blue": 100}
    assert not client.online_endpoints.get(endpoint).mirror_traffic
    assert {d.name for d in client.online_deployments.list(endpoint)} == {"blue"}


def test_the_endpoint_is_smoke_tested_after_each_step(standin, models):
    # The new deployment answers, but the endpoint (here: blue, which still takes 90%) does
    # not: only the smoke test of the endpoint after the first step can see it.
    endpoint = _endpoint_with_blue(models, "rollout-endpoint")
    standin.scoring_fault(endpoint=endpoint, deployment="blue", status=500, count=1000)

    def callers_handler(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, callers_handler)
    try:
        with pytest.raises(RuntimeError) as raised:
            azml_safe_rollout(**_rollout_arguments(models, endpoint, traffic_steps=[10, 100]))
        # The rollout's own SIGTERM handling ends with it.
        assert signal.getsignal(signal.SIGTERM) is callers_handler
    finally:
        signal.signal(signal.SIGTERM, previous)
    message = str(raised.value)
    assert "smoke test (endpoint at 10%) failed: status: expected 200, got 500" in message
    assert "smoke test (green directly): HTTP 200" in message
    assert "smoke test (green at 10%): HTTP 200" in message
    assert ("restoring traffic {'blue': 100} (mirror {}), deleting deployment green and "
            "removing the rollout record: done") in message
    standin.clear_faults()
    _blue_alone(endpoint)


def test_a_second_sigterm_does_not_cut_the_rollback_short(standin, models):
    # The rollout runs in a child process (tests.child_call); only that process is signalled.
    # The first traffic step and the rollback's traffic restore both stay in progress for a
    # while; a SIGTERM arrives during each. (The endpoint's first PUT only records the rollout:
    # the slow fault is set once the new deployment was sent, so it hits PUTs 2 and 3.)
    endpoint = _endpoint_with_blue(models, "rollout-twice")
    path = f"/onlineEndpoints/{endpoint}"
    standin.clear_requests()

    def puts_of(suffix: str) -> int:
        return sum(r["method"] == "PUT" and r["path"].endswith(suffix)
                   for r in standin.requests())

    def wait_for(suffix: str, count: int) -> None:
        deadline = time.monotonic() + 180
        while puts_of(suffix) < count and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.2)
        assert puts_of(suffix) >= count, f"no PUT #{count} of {suffix}"

    child = child_call.start("azml_components.runtime.rollout:azml_safe_rollout",
                             **_rollout_arguments(models, endpoint))
    try:
        wait_for(path + "/deployments/green", 1)
        # The first traffic move and then the rollback's restore are each held in progress
        # until the signal was sent (observed in the request log, not timed).
        standin.lro_fault(path_regex=path + "$", outcome="Hold", count=2)
        for puts in (2, 3):
            wait_for(path, puts)
            child.send_signal(signal.SIGTERM)
            standin.release_lro_holds()
        report = child_call.outcome(child, timeout=180)
    finally:
        if child.poll() is None:
            child.kill()
    assert report["error"] == "InterruptedError", report
    assert ("restoring traffic {'blue': 100} (mirror {}), deleting deployment green and "
            "removing the rollout record: done") in report["message"], report
    assert report["handler_restored"] is True  # the caller's handler is back afterwards
    assert report["caller_saw_sigterm"] is False  # neither signal reached it
    _blue_alone(endpoint)


def test_a_successful_rollout_reports_what_it_did(standin, models):
    endpoint = _endpoint_with_blue(models, "rollout-done")
    client = ml_client()
    entity = client.online_endpoints.get(endpoint)
    standin.clear_requests()
    result = azml_safe_rollout(**_rollout_arguments(models, endpoint, traffic_steps=[20, 100],
                                                    remove_old=True))
    assert result["traffic_before"] == {"blue": 100}
    assert result["traffic"] == {"green": 100} and result["mirror_traffic"] == {}
    assert result["removed"] == ["blue"]
    # The deployments' models: read back from Azure (an ARM id, shown as NAME:VERSION) and
    # the new one as given.
    assert result["models"] == {"blue": models["blue"]["model_id"].split(":", 1)[1],
                                "green": models["green"]["model_id"]}
    assert result["steps"][-1] == "removed old deployment blue"
    assert "traffic {'blue': 80, 'green': 20}" in result["steps"]
    assert result["scoring_uri"] == entity.scoring_uri
    assert {d.name for d in client.online_deployments.list(endpoint)} == {"green"}
    # Four PUTs of the endpoint, none re-creating it: the rollout's record, traffic 20 and 100
    # (each renewing the record in the same PUT), the record removed.
    puts = [r for r in azure_writes(standin.requests())
            if r["method"] == "PUT" and r["path"].lower().endswith(f"/onlineendpoints/{endpoint}")]
    assert len(puts) == 4
    answer = azml_invoke_endpoint(**workspace(), endpoint_name=endpoint,
                                  payload=data_payload(diabetes_rows()))
    assert np.allclose(answer["response"], models["green"]["model"].predict(diabetes_rows()))


def test_a_rollout_needs_a_new_deployment_name(standin, models):
    endpoint = _endpoint_with_blue(models, "rollout-exists")
    standin.clear_requests()
    with pytest.raises(ValueError, match=f"^deployment_name: 'BLUE' already exists on "
                                         f"'{endpoint}'"):
        azml_safe_rollout(**_rollout_arguments(models, endpoint, deployment_name="BLUE"))
    assert azure_writes(standin.requests()) == []


def test_a_failure_while_mirroring_restores_live_and_mirror_exactly(standin, models):
    # The endpoint already mirrors 10% to a shadow deployment; the rollout replaces that mirror
    # with its own, and the live smoke test while mirroring fails (blue answers 500): the
    # rollback must put the shadow's mirror back, not merely drop the new one.
    endpoint = _endpoint_with_blue(models, "rollout-mirror")
    azml_deploy_model(**workspace(), endpoint_name=endpoint, deployment_name="shadow",
                      traffic_percent=0, timeout_seconds=300,
                      model_id=models["blue"]["model_id"], options=models["blue"]["options"])
    client = ml_client()
    entity = client.online_endpoints.get(endpoint)
    entity.mirror_traffic = {"shadow": 10}
    client.online_endpoints.begin_create_or_update(entity).result()
    standin.scoring_fault(endpoint=endpoint, deployment="blue", status=500, count=1000)
    with pytest.raises(RuntimeError) as raised:
        azml_safe_rollout(**_rollout_arguments(models, endpoint, mirror_percent=20))
    assert "smoke test (live traffic while mirroring) failed" in str(raised.value)
    after = client.online_endpoints.get(endpoint)
    assert {k: v for k, v in after.traffic.items() if v} == {"blue": 100}
    assert after.mirror_traffic == {"shadow": 10}
    assert {d.name for d in client.online_deployments.list(endpoint)} == {"blue", "shadow"}


def _recorded_rollouts(standin, endpoint: str) -> list:
    # The rollout records, in order, that the endpoint PUTs of this test carried (the request
    # log keeps an ARM write's body); a PUT without one (the last: the record removed) is None.
    from datetime import datetime

    path = f"/onlineEndpoints/{endpoint}".lower()
    puts = [r for r in standin.requests()
            if r["method"] == "PUT" and r["path"].lower().endswith(path) and "body" in r]
    records = [azml_read_rollout(endpoint, r["body"].get("tags")) for r in puts]
    for record in filter(None, records):
        for stamp in ("updated", "expires"):
            record[stamp] = datetime.fromisoformat(record[stamp].replace("Z", "+00:00"))
    return records


def test_each_traffic_step_renews_the_record_for_three_timeouts(standin, models):
    endpoint = _endpoint_with_blue(models, "rollout-renew")
    standin.clear_requests()
    azml_safe_rollout(**_rollout_arguments(models, endpoint, traffic_steps=[50, 100],
                                           timeout_seconds=120))
    records = _recorded_rollouts(standin, endpoint)
    # Recorded before anything changed, renewed in each of the two traffic moves, then removed.
    assert [r is not None for r in records] == [True, True, True, False]
    recorded = records[:3]
    # Another run treats the rollout as alive for three timeouts after its last write.
    assert {(r["expires"] - r["updated"]).total_seconds() for r in recorded} == {360}
    # Between the record and the first move the deployment was created, its scoring process
    # started and smoke-tested: a renewed record carries a later stamp than the first one.
    assert recorded[0]["updated"] < recorded[1]["updated"] <= recorded[2]["updated"]
    assert {(r["deployment"], r["owner"]) for r in recorded} == {
        ("green", recorded[0]["owner"])}
