"""create_monitor against local mode: a monitor schedule through the real SDK, idempotent re-runs,
and local mode refusing what the REST spec refuses (azml_local/resources/schedules.py)."""

from __future__ import annotations

import copy
import os

import pytest
import requests

from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.monitor import azml_create_monitor
from azml_components.runtime.records import AzmlDriftSettings
from azml_components.runtime.register import azml_register_model
from tests.helpers import azure_writes, ml_client, unique, workspace, write_custom_model

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def monitored(standin, tmp_path_factory) -> dict:
    from azure.ai.ml.entities import Data

    root = tmp_path_factory.mktemp("monitor")
    model_dir, code_dir, _ = write_custom_model(root / "model")
    registered = azml_register_model(**workspace(), model_name=unique("monitor"),
                                     model_path=str(model_dir))
    endpoint = unique("monitor")
    azml_deploy_model(**workspace(), endpoint_name=endpoint, deployment_name="blue",
                      model_id=registered["asset_id"], timeout_seconds=300,
                      options={"code_path": str(code_dir), "conda_file": "conda.yaml"})
    client = ml_client()
    (root / "data").mkdir()
    (root / "data" / "rows.csv").write_text("age,bmi,prediction\n50,25.0,151.5\n40,22.5,130.0\n")
    assets = {}
    for role in ("baseline", "inputs", "outputs"):
        name = unique(f"monitor-{role}")
        client.data.create_or_update(Data(name=name, version="1", type="uri_folder",
                                          path=str(root / "data")))
        assets[role] = f"azureml:{name}:1"
    return {"endpoint": endpoint, **assets}


def _create(monitored: dict, name: str, **changes) -> dict:
    arguments = dict(monitor_name=name, endpoint_name=monitored["endpoint"],
                     deployment_name="blue", baseline_data=monitored["baseline"],
                     production_data=monitored["inputs"], outputs_data=monitored["outputs"],
                     emails=["ml-team@example.com"], timeout_seconds=120)
    return azml_create_monitor(**workspace(), **{**arguments, **changes})


def test_a_monitor_is_a_schedule_and_a_rerun_writes_nothing(standin, monitored):
    name = unique("monitor")
    first = _create(monitored, name)
    assert not first["unchanged"]
    assert first["signals"] == ["data-drift", "data-quality", "prediction-drift"]
    schedule = ml_client().schedules.get(name)
    signals = schedule.create_monitor.monitoring_signals
    assert signals["data-drift"].metric_thresholds.numerical.normalized_wasserstein_distance == 0.1
    assert signals["data-drift"].metric_thresholds.categorical.jensen_shannon_distance == 0.1
    assert schedule.create_monitor.alert_notification.emails == ["ml-team@example.com"]
    assert schedule.tags["azml_monitor_spec"] == first["fingerprint"]
    standin.clear_requests()
    again = _create(monitored, name)
    assert again["unchanged"] and azure_writes(standin.requests()) == []
    # Changed inputs (a stricter threshold) update the schedule in place.
    changed = _create(monitored, name, settings=AzmlDriftSettings(numerical_threshold=0.05))
    assert not changed["unchanged"] and changed["fingerprint"] != first["fingerprint"]
    signals = ml_client().schedules.get(name).create_monitor.monitoring_signals
    assert signals["data-drift"].metric_thresholds.numerical.normalized_wasserstein_distance == 0.05


def test_a_deployment_that_collects_nothing_needs_its_data_named(standin, monitored):
    standin.clear_requests()
    with pytest.raises(ValueError, match="^production_data: deployment .* does not collect "
                                         "model_inputs"):
        _create(monitored, unique("monitor"), production_data="")
    assert azure_writes(standin.requests()) == []


def _arm(standin, method: str, path: str, body: dict | None = None) -> requests.Response:
    from azml_components.runtime import azml_credential

    base = standin.env["ARM_CLOUD_METADATA_URL"].rsplit("/metadata/", 1)[0]
    token = azml_credential().get_token(f"{base}/.default").token
    return requests.request(method, f"{base}{path}?api-version=2025-12-01", json=body,
                            headers={"Authorization": f"Bearer {token}"},
                            verify=os.environ["REQUESTS_CA_BUNDLE"], timeout=60)


def _set(body: dict, path: str, value) -> dict:
    changed = copy.deepcopy(body)
    *parents, last = path.split(".")
    node = changed
    for part in parents:
        node = node[part]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return changed


@pytest.fixture(scope="module")
def written(standin, monitored) -> tuple:
    # The body the SDK wrote, read back raw; a copy of it is accepted as it is.
    name = unique("monitor")
    _create(monitored, name)
    schedules = ("/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
                 "Microsoft.MachineLearningServices/workspaces/{workspace_name}/schedules/"
                 ).format(**workspace())
    body = {"properties": _arm(standin, "GET", schedules + name).json()["properties"]}
    assert _arm(standin, "PUT", schedules + unique("copy"), body).status_code in (200, 201)
    return schedules, body


MONITOR = "properties.action.monitorDefinition"
DRIFT = MONITOR + ".signals.data-drift"


@pytest.mark.parametrize(("path", "value", "message"), [
    ("properties.action.actionType", "CreateReport", "actionType"),
    ("properties.trigger.frequency", "fortnight", "frequency"),
    ("properties.trigger.interval", 0, "interval"),
    ("properties.trigger.schedule.hours", [24], "hours"),
    ("properties.trigger", KeyError, "trigger"),
    (MONITOR + ".computeConfiguration", KeyError, "computeConfiguration"),
    (MONITOR + ".computeConfiguration.computeType", "Kubernetes", "computeType"),
    (MONITOR + ".monitoringTarget.taskType", "QuestionAnswering", "taskType"),
    (MONITOR + ".signals", {}, "signals"),
    (DRIFT + ".signalType", "Weather", "signalType"),
    (DRIFT + ".metricThresholds", [{"metric": "twoSampleKolmogorovSmirnovTest",
                                    "dataType": "Categorical", "threshold": {"value": 0.1}}],
     "is not a categorical metric"),
    (DRIFT + ".productionData.inputDataType", "Sometimes", "inputDataType"),
    (DRIFT + ".referenceData", KeyError, "referenceData"),
])
def test_local_mode_refuses_what_the_rest_spec_refuses(standin, written, path, value, message):
    schedules, body = written
    answer = _arm(standin, "PUT", schedules + unique("bad"), _set(body, path, value))
    assert answer.status_code == 400 and message in answer.text, answer.text
