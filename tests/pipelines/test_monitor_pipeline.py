"""The monitoring example end to end through kfp.local against local mode.

pipelines/monitor_and_retrain.py deploys the diabetes model with data collection, sends a day
of traffic shifted by one standard deviation, checks drift against the training data and, as
it drifted, retrains, registers and rolls the new model out: under the KFP backend's artifact
rules, as `nox -s demo -- --monitor` runs it.
"""

from __future__ import annotations

import pytest

from pipelines.run_local import run_monitor_pipeline_locally
from tests.helpers import ml_client, unique, workspace

pytestmark = pytest.mark.timeout(1200)


def test_shifted_traffic_is_detected_and_a_retrained_model_is_rolled_out(standin, tmp_path):
    ws = workspace()
    endpoint = unique("monitor")
    found = run_monitor_pipeline_locally(
        tmp_path, task_log=tmp_path / "logs" / "tasks.log", resource_group=ws["resource_group"],
        workspace_name=ws["workspace_name"], endpoint_name=endpoint,
        model_name=unique("diabetes-monitored"), shift=1.0)
    summary = found["summary"]
    assert summary.startswith("## Drift detected"), summary
    assert "- **production rows**: 960" in summary  # 24 requests of 40 rows, all collected
    # Every feature moved by one standard deviation drifts; the table has each and the
    # prediction drift row.
    for feature in ("age", "bmi", "s6"):
        assert f"| {feature} | data_drift | numerical |" in summary
    assert "| prediction | prediction_drift |" in summary
    assert found["rolled_out"]
    client = ml_client()
    traffic = client.online_endpoints.get(endpoint).traffic
    assert traffic.get("green") == 100, traffic
    # The report and every output the run wrote hold neither the client secret nor the keys.
    keys = client.online_endpoints.get_keys(endpoint)
    secrets = [standin.env["AZ_CLIENT_SECRET"], keys.primary_key, keys.secondary_key]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not any(secret in text for secret in secrets), path
