"""check_drift's runtime: the metrics on fixed-seed samples, data quality, the data collector's
layout read back from Azurite, and the outcomes (drift, no drift, too little data)."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from azml_components.runtime.drift import azml_check_drift
from azml_components.runtime.drift_data import (
    azml_collected_blob_names,
    azml_partition_span,
    azml_read_files,
    azml_table_files,
)
from azml_components.runtime.drift_metrics import azml_feature_drift, azml_quality_rates
from azml_components.runtime.records import AzmlDriftSettings
from tests.helpers import ml_client, unique, workspace

SEED = 20261207
NUMERICAL = ["normalized_wasserstein_distance", "jensen_shannon_distance",
             "population_stability_index", "two_sample_kolmogorov_smirnov_test"]
CATEGORICAL = ["jensen_shannon_distance", "population_stability_index",
               "pearsons_chi_squared_test"]
# Thresholds for the metrics without an SDK default: PSI 0.2 (a common "significant shift"
# level), p-values 0.05.
THRESHOLD = {"normalized_wasserstein_distance": 0.1, "jensen_shannon_distance": 0.1,
             "population_stability_index": 0.2, "two_sample_kolmogorov_smirnov_test": 0.05,
             "pearsons_chi_squared_test": 0.05}


def _numbers(rng, n, shift=0.0):
    return [float(v) for v in rng.normal(50 + 10 * shift, 10, n)]


def _colours(rng, n, shifted=False):
    return list(rng.choice(["red", "green", "blue"], n,
                           p=(0.2, 0.3, 0.5) if shifted else (0.5, 0.3, 0.2)))


@pytest.mark.parametrize("metric", NUMERICAL)
def test_numerical_metric_flags_a_shift_and_not_the_same_distribution(metric):
    rng = np.random.default_rng(SEED)
    baseline, same, shifted = _numbers(rng, 2000), _numbers(rng, 2000), _numbers(rng, 2000, 1)
    settings = AzmlDriftSettings(numerical_metric=metric, numerical_threshold=THRESHOLD[metric])
    assert not azml_feature_drift("x", baseline, same, settings).drifted
    assert azml_feature_drift("x", baseline, shifted, settings).drifted


@pytest.mark.parametrize("metric", CATEGORICAL)
def test_categorical_metric_flags_a_shift_and_not_the_same_distribution(metric):
    rng = np.random.default_rng(SEED)
    baseline, same, shifted = _colours(rng, 2000), _colours(rng, 2000), _colours(rng, 2000, True)
    settings = AzmlDriftSettings(categorical_metric=metric,
                                 categorical_threshold=THRESHOLD[metric])
    result = azml_feature_drift("colour", baseline, same, settings)
    assert result.kind == "categorical" and not result.drifted
    assert azml_feature_drift("colour", baseline, shifted, settings).drifted


def test_the_defaults_are_azure_ml_monitorings():
    # azure-ai-ml 1.35.2 thresholds.py: NWD 0.1 numerical, JSD 0.1 categorical, quality 0.0.
    from azure.ai.ml.entities import DataDriftMetricThreshold, DataQualityMetricThreshold

    drift = DataDriftMetricThreshold._get_default_thresholds()
    quality = DataQualityMetricThreshold._get_default_thresholds()
    ours = AzmlDriftSettings()
    assert drift.numerical.normalized_wasserstein_distance == ours.numerical_threshold
    assert ours.numerical_metric == "normalized_wasserstein_distance"
    assert drift.categorical.jensen_shannon_distance == ours.categorical_threshold
    assert ours.categorical_metric == "jensen_shannon_distance"
    assert (quality.numerical.null_value_rate, quality.numerical.data_type_error_rate,
            quality.numerical.out_of_bounds_rate) == (
        ours.null_value_rate_threshold, ours.data_type_error_rate_threshold,
        ours.out_of_bounds_rate_threshold)


@pytest.mark.parametrize(("kind", "baseline", "production", "rates"), [
    # null, wrong type, outside [min, max] (numbers) or the baseline's set (categories)
    ("numerical", [1.0, 2.0, 3.0], [None, "x", 2.5, 9.0], (0.25, 0.25, 0.25)),
    ("numerical", [1.0, 2.0, 3.0], [1.0, 3.0, float("nan"), 2], (0.25, 0.0, 0.0)),
    ("categorical", ["a", "b"], ["a", "c", 3, ""], (0.25, 0.25, 0.25)),
])
def test_data_quality_rates(kind, baseline, production, rates):
    assert azml_quality_rates(kind, baseline, production) == rates


def test_integer_columns_with_few_distinct_values_are_categorical():
    # df_utils.is_categorical: an integer column is categorical under 5% distinct values.
    settings = AzmlDriftSettings()
    assert azml_feature_drift("sex", [1, 2] * 50, [1, 2] * 50, settings).kind == "categorical"
    assert azml_feature_drift("age", list(range(100)), list(range(100)),
                              settings).kind == "numerical"


def test_rolled_folders_select_blobs_in_the_window():
    assert azml_partition_span(["2026", "12", "07", "08"])[0] == datetime(
        2026, 12, 7, 8, tzinfo=timezone.utc)
    assert azml_partition_span(["2026", "12"])[1] == datetime(2027, 1, 1, tzinfo=timezone.utc)
    prefix = "modelDataCollector/e/d/model_inputs/"
    names = [prefix + "2026/12/07/07/a.jsonl", prefix + "2026/12/07/08/b.jsonl",
             prefix + "2026/12/06/c.jsonl", prefix + "2026/12/07/09/x.json", "other/d.jsonl"]
    start = datetime(2026, 12, 7, 7, 30, tzinfo=timezone.utc)
    end = start + timedelta(hours=1)
    assert azml_collected_blob_names(names, prefix, start, end) == [
        prefix + "2026/12/07/07/a.jsonl", prefix + "2026/12/07/08/b.jsonl"]


def _csv(path: Path, rows: list) -> str:
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def _rows(rng, n, shift=0.0):
    return [{"age": a, "colour": c} for a, c in zip(
        _numbers(rng, n, shift), _colours(rng, n, shifted=bool(shift)), strict=True)]


def test_identical_distributions_give_no_drift_and_a_shift_gives_drift(tmp_path):
    rng = np.random.default_rng(SEED)
    baseline = _csv(tmp_path / "baseline.csv", _rows(rng, 2000))
    same = _csv(tmp_path / "same.csv", _rows(rng, 2000))
    shifted = _csv(tmp_path / "shifted.csv", _rows(rng, 2000, shift=1.0))
    calm = azml_check_drift("", "", "", str(tmp_path), baseline_path=baseline,
                            production_path=same)
    assert not calm.drift_detected, calm.reason
    assert [r.name for r in calm.results] == ["age", "colour"]
    drifted = azml_check_drift("", "", "", str(tmp_path), baseline_path=baseline,
                               production_path=shifted)
    assert drifted.drift_detected and "age, colour" in drifted.reason
    assert drifted.metrics["drifted_features"] == 2
    assert "<svg" in drifted.html and "**DRIFT**" in drifted.markdown


def test_too_little_production_data_is_an_outcome_not_a_crash(tmp_path):
    rng = np.random.default_rng(SEED)
    baseline = _csv(tmp_path / "baseline.csv", _rows(rng, 100))
    few = _csv(tmp_path / "few.csv", _rows(rng, 5, shift=3.0))
    outcome = azml_check_drift("", "", "", str(tmp_path), baseline_path=baseline,
                               production_path=few)
    assert not outcome.drift_detected and outcome.results == []
    assert "too little production data: 5 rows" in outcome.reason
    with pytest.raises(ValueError, match="^production_data: too little production data"):
        azml_check_drift("", "", "", str(tmp_path), baseline_path=baseline, production_path=few,
                         require_production_data=True)


def _record(rows: list, when: datetime, collection: str = "model_inputs") -> str:
    # A record as how-to-collect-production-data documents it ("Store collected data in Blob
    # Storage"): CloudEvents-style fields, the logged DataFrame's rows under "data".
    return json.dumps({
        "specversion": "1.0", "id": unique("id"), "source": "/subscriptions/x/onlineEndpoints/e",
        "type": f"azureml.inference.{collection}", "datacontenttype": "application/json",
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": rows,
        "correlationid": "c", "xrequestid": "c", "modelversion": "default",
        "collectdatatype": "pandas.core.frame.DataFrame", "agent": "azureml-ai-monitoring/1.0.0",
        "contentrange": "bytes 0-1/2"})


@pytest.mark.timeout(300)
def test_collected_data_is_read_from_the_workspace_blob_store(standin, tmp_path):
    from azure.ai.ml._artifacts._artifact_utilities import get_datastore_info
    from azure.storage.blob import ContainerClient

    client = ml_client()
    info = get_datastore_info(client.datastores, "workspaceblobstore")
    container = ContainerClient(info["account_url"], info["container_name"],
                                credential=info["credential"])
    endpoint, deployment = unique("drift"), "blue"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    rng = np.random.default_rng(SEED)
    root = f"modelDataCollector/{endpoint}/{deployment}"

    def put(collection: str, when: datetime, lines: list) -> None:
        name = f"{root}/{collection}/{when:%Y/%m/%d/%H}/{unique('inst')}.jsonl"
        container.upload_blob(name, "\n".join(lines) + "\n")

    shifted = _rows(rng, 60, shift=1.0)
    put("model_inputs", now - timedelta(minutes=30),
        [_record(shifted[:30], now - timedelta(minutes=30)),
         json.dumps({"specversion": "1.0", "time": now.isoformat(), "data": {"raw": "body"}})])
    put("model_inputs", now - timedelta(minutes=5), [_record(shifted[30:], now - timedelta(
        minutes=5))])
    put("model_inputs", now - timedelta(days=3), [_record(_rows(rng, 50), now - timedelta(days=3))])
    baseline = _csv(tmp_path / "baseline.csv", _rows(rng, 500))
    outcome = azml_check_drift(
        **workspace(), folder=str(tmp_path), baseline_path=baseline, endpoint_name=endpoint,
        deployment_name=deployment, lookback_window="PT2H",
        window_end=(now + timedelta(minutes=1)).isoformat(), client=client)
    assert outcome.metrics["production_rows"] == 60
    assert "records skipped (not tabular)**: 1" in outcome.markdown
    assert outcome.drift_detected, outcome.reason


def test_csv_cells_become_json_like_values(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1,2.5,x\n,3,\n")
    table = azml_read_files([str(path)])
    assert table.columns == {"a": [1, None], "b": [2.5, 3], "c": ["x", None]}


def test_files_without_an_extension_are_read_by_their_first_line(tmp_path):
    # KFP names an artifact's file after the output ("baseline"), with no extension.
    (tmp_path / "baseline").write_text("a,b\n1,x\n")
    (tmp_path / "collected").write_text(json.dumps({"a": 2, "b": "y"}) + "\n")
    (tmp_path / "MLTable").write_text("paths:\n  - file: ./baseline\n")
    table = azml_read_files(azml_table_files(str(tmp_path)))
    assert table.columns == {"a": [1, 2], "b": ["x", "y"]}
