"""A rollout's record on its endpoint (runtime/rollout_state.py): the tags it becomes within
Azure's limits, and undoing an unfinished rollout through the real SDK against the stand-in.

The endpoint states here are what a crashed rollout leaves (a half-made deployment taking part
of the traffic, the record in the tags), built directly; tests/components/test_rollout.py and
tests/runtime/test_rollout.py make them by SIGKILLing a real rollout.
"""

import pytest

from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.register import azml_register_model
from azml_components.runtime.rollout import azml_safe_rollout
from azml_components.runtime.rollout_state import (
    azml_read_rollout,
    azml_recover_rollout,
    azml_restore_plan,
    azml_rollout_owner,
    azml_rollout_record,
    azml_tags_with_rollout,
    azml_without_rollout_tags,
)
from tests.helpers import (
    data_payload,
    diabetes_rows,
    ml_client,
    unique,
    workspace,
    write_custom_model,
)

pytestmark = pytest.mark.timeout(600)
WRITES = ("PUT", "POST", "PATCH", "DELETE")


def test_the_record_fits_azure_tag_limits_for_the_largest_endpoint():
    # 20 deployments (Azure ML's limit per endpoint) with 32-character names, mirror traffic,
    # the longest owner: every value within 256 characters, and it reads back the same.
    names = [f"d{i:02d}" + "x" * 29 for i in range(20)]
    live = {name: 5 for name in names}
    record = azml_rollout_record("g" * 32, "r" * 128, True, live, {"m" * 32: 50}, 3600)
    tags = azml_tags_with_rollout({"team": "ml"}, record)
    assert max(len(v) for v in tags.values()) <= 256
    assert len(tags) <= 11 and tags["team"] == "ml"
    assert azml_read_rollout("ep", tags) == record
    # Tag names ignore case in Azure: a record read back in another case is the same record.
    assert azml_read_rollout("ep", {k.upper(): v for k, v in tags.items()}) == record
    assert azml_without_rollout_tags(tags) == {"team": "ml"}
    assert azml_read_rollout("ep", {"team": "ml"}) is None


def test_zero_weights_are_not_recorded_and_renewing_keeps_the_rest():
    record = azml_rollout_record("green", "run-1", False, {"blue": 100, "old": 0}, {"x": 0}, 60)
    assert record["traffic"] == {"blue": 100} and record["mirror"] == {}


def test_a_record_that_would_break_azure_tag_limits_is_refused_before_writing():
    crowded = {f"tag{i}": "v" for i in range(45)}
    record = azml_rollout_record("green", "run-1", False, {"blue": 100}, {}, 60)
    with pytest.raises(ValueError, match="^endpoint tags: 52 tags; Azure allows at most 50"):
        azml_tags_with_rollout(crowded, record)
    with pytest.raises(ValueError, match="endpoint tags: tag name 'a/b' must have"):
        azml_tags_with_rollout({"a/b": "v"}, record)


def test_an_unreadable_record_is_reported_not_guessed():
    tags = azml_tags_with_rollout({}, azml_rollout_record("g", "o", False, {"b": 100}, {}, 60))
    tags["azml-rollout-traffic-1"] = "{broken"
    with pytest.raises(RuntimeError, match="^endpoint 'ep' carries a rollout record"):
        azml_read_rollout("ep", tags)


def test_owner_is_the_kfp_run_or_unique_to_the_process():
    assert azml_rollout_owner(" run-42 ") == "run-42"
    unfilled = azml_rollout_owner("{{$.pipeline_job_uuid}}")
    assert unfilled != azml_rollout_owner("") and "pid" in unfilled
    with pytest.raises(ValueError, match="^pipeline_run_id: "):
        azml_rollout_owner("r" * 129)


def test_restore_plan_keeps_what_exists_and_rescales_when_a_deployment_vanished():
    record = azml_rollout_record("green", "o", False, {"Blue": 60, "red": 40}, {"shadow": 20}, 60)
    assert azml_restore_plan(record, ["blue", "red", "shadow", "green"]) == (
        {"blue": 60, "red": 40, "green": 0}, {"shadow": 20})
    # red was deleted meanwhile: blue takes all live traffic; green is gone too.
    assert azml_restore_plan(record, ["blue", "shadow"]) == ({"blue": 100}, {"shadow": 20})


@pytest.fixture(scope="module")
def half_made(standin, tmp_path_factory):
    # An endpoint as a crashed rollout leaves it: blue (its previous 100%) at 90, the new green
    # at 10, the record in the tags next to the user's own tag.
    model_dir, code_dir, model = write_custom_model(tmp_path_factory.mktemp("state"), alpha=2.0)
    registered = azml_register_model(**workspace(), model_name="state-blue",
                                     model_path=str(model_dir))
    options = {"code_path": str(code_dir), "scoring_script": "score.py",
               "conda_file": "conda.yaml"}
    azml_deploy_model(**workspace(), endpoint_name="state-crashed", deployment_name="blue",
                      model_id=registered["asset_id"], options=options, timeout_seconds=300)
    return {"model_id": registered["asset_id"], "options": options, "model": model}


def _crash_state(half_made: dict, owner: str, expires: str = "") -> None:
    client = ml_client()
    if "green" not in {d.name for d in client.online_deployments.list("state-crashed")}:
        azml_deploy_model(**workspace(), endpoint_name="state-crashed", deployment_name="green",
                          model_id=half_made["model_id"], options=half_made["options"],
                          traffic_percent=0, timeout_seconds=300)
    endpoint = client.online_endpoints.get("state-crashed")
    record = azml_rollout_record("green", owner, False, {"blue": 100}, {}, 300)
    if expires:
        record["expires"] = expires
    endpoint.tags = azml_tags_with_rollout({"team": "ml"}, record)
    endpoint.traffic = {"blue": 90, "green": 10}
    client.online_endpoints.begin_create_or_update(endpoint).result()


def test_a_live_rollout_of_another_run_is_refused_before_any_write(standin, half_made):
    _crash_state(half_made, "run-elsewhere")
    standin.clear_requests()
    with pytest.raises(RuntimeError, match="owned by run 'run-elsewhere'.*recover_rollout"):
        azml_deploy_model(**workspace(), endpoint_name="state-crashed", deployment_name="blue",
                          model_id=half_made["model_id"], options=half_made["options"],
                          timeout_seconds=300)
    with pytest.raises(RuntimeError, match="owned by run 'run-elsewhere'"):
        azml_safe_rollout(**workspace(), endpoint_name="state-crashed", deployment_name="teal",
                          model_id=half_made["model_id"], options=half_made["options"],
                          payload=data_payload(diabetes_rows()), pipeline_run_id="run-here",
                          timeout_seconds=300)
    # The clean-up of another run leaves it alone too.
    left = azml_recover_rollout(ml_client(), "state-crashed", "run-here", 300, refuse_live=False)
    assert left["found"] and not left["undone"] and "run-elsewhere" in left["actions"][0]
    assert [r for r in standin.requests()
            if r["method"] in WRITES and r["path"].startswith("/subscriptions/")] == []
    assert ml_client().online_endpoints.get("state-crashed").traffic == {"blue": 90, "green": 10}


def _writes(standin) -> list:
    return [(r["method"], r["path"].rsplit("/", 2)[-2:]) for r in standin.requests()
            if r["method"] in WRITES and r["path"].startswith("/subscriptions/")]


# The undo's writes: traffic back, green deleted, record removed.
UNDO_WRITES = [("PUT", ["onlineEndpoints", "state-crashed"]),
               ("DELETE", ["deployments", "green"]),
               ("PUT", ["onlineEndpoints", "state-crashed"])]


def test_deploy_model_undoes_a_stale_rollout_before_deploying(standin, half_made):
    _crash_state(half_made, "run-long-gone", expires="2001-01-01T00:00:00Z")
    standin.clear_requests()
    # A setting blue does not have yet (unique per call): blue itself is updated after the undo.
    variables = {"ROUND": unique("round")}
    result = azml_deploy_model(**workspace(), endpoint_name="state-crashed",
                               deployment_name="blue", model_id=half_made["model_id"],
                               options={**half_made["options"],
                                        "environment_variables": variables},
                               traffic_percent=100, timeout_seconds=300)
    client = ml_client()
    endpoint = client.online_endpoints.get("state-crashed")
    assert endpoint.traffic == {"blue": 100}
    assert endpoint.tags == {"team": "ml"}
    assert {d.name for d in client.online_deployments.list("state-crashed")} == {"blue"}
    writes = _writes(standin)
    # Undone first, then blue's own deployment.
    assert writes[:3] == UNDO_WRITES
    assert ("PUT", ["deployments", "blue"]) in writes[3:]
    assert result["unchanged"] is False
    assert client.online_deployments.get("blue", "state-crashed").environment_variables == \
        variables
    # Nothing left to undo: a second recovery writes nothing.
    standin.clear_requests()
    again = azml_recover_rollout(client, "state-crashed", "", 300)
    assert (again["found"], again["undone"], again["actions"]) == (False, False, [])
    assert [r for r in standin.requests() if r["method"] in WRITES] == []


def test_an_unchanged_deploy_is_declared_only_after_the_stale_rollout_is_undone(
        standin, half_made):
    # Blue is deployed as asked, but a crashed rollout left green with 10% and its record: the
    # no-op redeploy must not skip the undo. It undoes first, then finds blue live as asked
    # (all the traffic again) and writes nothing more.
    client = ml_client()
    variables = client.online_deployments.get("blue", "state-crashed").environment_variables
    _crash_state(half_made, "run-long-gone", expires="2001-01-01T00:00:00Z")
    standin.clear_requests()
    result = azml_deploy_model(**workspace(), endpoint_name="state-crashed",
                               deployment_name="blue", model_id=half_made["model_id"],
                               options={**half_made["options"],
                                        "environment_variables": dict(variables or {})},
                               traffic_percent=100, timeout_seconds=300)
    assert _writes(standin) == UNDO_WRITES
    assert result["unchanged"] is True
    assert result["traffic"] == {"blue": 100} and result["previous_traffic"] == {"blue": 100}
    endpoint = client.online_endpoints.get("state-crashed")
    assert (endpoint.traffic, endpoint.tags) == ({"blue": 100}, {"team": "ml"})
    assert {d.name for d in client.online_deployments.list("state-crashed")} == {"blue"}


def test_a_record_the_endpoint_no_longer_fits_is_reported_and_nothing_is_written(
        standin, half_made):
    # Someone changed the endpoint by hand since: the recorded mirror target now takes live
    # traffic, which Azure refuses. The undo says so instead of guessing.
    _crash_state(half_made, "run-gone", expires="2001-01-01T00:00:00Z")
    client = ml_client()
    endpoint = client.online_endpoints.get("state-crashed")
    record = azml_read_rollout("state-crashed", endpoint.tags)
    endpoint.tags = azml_tags_with_rollout(endpoint.tags, {**record, "mirror": {"blue": 20}})
    client.online_endpoints.begin_create_or_update(endpoint).result()
    standin.clear_requests()
    with pytest.raises(RuntimeError, match="^endpoint 'state-crashed': the traffic recorded "
                                           "before the unfinished rollout cannot be restored"):
        azml_recover_rollout(client, "state-crashed", "", 300)
    assert [r for r in standin.requests() if r["method"] in WRITES] == []
