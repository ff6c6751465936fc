# check_drift: read the baseline and the production data, compare them feature by feature with
# Azure ML model monitoring's metrics (drift_metrics), and write the reports (drift_report).
from typing import Optional

from azml_components.runtime.azure_client import azml_ml_client
from azml_components.runtime.drift_data import (
    azml_read_collected,
    azml_read_data_asset,
    azml_read_files,
    azml_table_files,
    azml_window,
)
from azml_components.runtime.drift_metrics import (
    azml_check_drift_settings,
    azml_common_features,
    azml_feature_drift,
)
from azml_components.runtime.drift_report import (
    azml_drift_html,
    azml_drift_markdown,
    azml_feature_drift_metrics,
)
from azml_components.runtime.records import AzmlDriftOutcome, AzmlDriftSettings, AzmlTable
from azml_components.runtime.validation import azml_check_online_name


def azml_check_drift_sources(baseline_path: str, baseline_data: str, production_path: str,
                             production_data: str, endpoint_name: str, deployment_name: str,
                             collections: list) -> None:
    # Exactly one baseline and one production source, each well formed.
    import re

    if bool(baseline_path) == bool(baseline_data):
        raise ValueError("baseline: give exactly one of baseline (a Dataset artifact) or "
                         "baseline_data (azureml:NAME:VERSION or an azureml:// path)")
    for field, value in (("baseline_data", baseline_data), ("production_data", production_data)):
        if value and not value.startswith("azureml:"):
            raise ValueError(f"{field}: {value!r} must be a data asset (azureml:NAME:VERSION) "
                             "or a datastore path (azureml://datastores/NAME/paths/PATH)")
    given = [name for name, value in (("production", production_path), ("production_data",
             production_data), ("endpoint_name", endpoint_name)) if value]
    if len(given) != 1:
        raise ValueError("production_data: give exactly one production source: production (a "
                         "Dataset artifact), production_data, or endpoint_name with "
                         f"deployment_name (given: {', '.join(given) or 'none'})")
    if not endpoint_name:
        return
    azml_check_online_name("endpoint_name", endpoint_name)
    azml_check_online_name("deployment_name", deployment_name)
    for field, value in collections:
        # Collection names are free (REST spec DataCollector.collections); request and response
        # are payload logging, whose bodies are not tabular (how-to-collect-production-data).
        if value in ("request", "response"):
            raise ValueError(f"{field}: {value!r} is payload logging (raw request or response "
                             "bodies), not tabular data; use a custom-logging collection such "
                             "as model_inputs")
        if value and not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", value):
            raise ValueError(f"{field}: {value!r} is not a collection name (letters, digits, "
                             "'-' and '_')")


def azml_read_source(client, path: str, uri: str, folder: str, start=None, end=None,
                     endpoint: Optional[tuple] = None) -> AzmlTable:
    # A local artifact path, a data asset or datastore path, or a deployment's collection.
    import os

    if path:
        return azml_read_files(azml_table_files(path))
    target = os.path.join(folder, str(len(os.listdir(folder))))
    os.makedirs(target)
    if uri:
        return azml_read_data_asset(client, uri, target)
    return azml_read_collected(client, *endpoint, start, end, target)


def azml_prediction_values(outputs: AzmlTable, column: str) -> Optional[list]:
    # The prediction column of the production outputs; a one-column table is that column.
    if column in outputs.columns:
        return outputs.columns[column]
    if len(outputs.columns) == 1:
        return next(iter(outputs.columns.values()))
    return None


def azml_drift_results(baseline: AzmlTable, production: AzmlTable, outputs: Optional[AzmlTable],
                       features: list, prediction_column: str, settings: AzmlDriftSettings,
                       check_only: bool = False) -> tuple:
    # (results, samples): data drift per feature, then prediction drift when asked. check_only:
    # the column checks alone.
    inputs = {k: v for k, v in baseline.columns.items() if k != prediction_column or features}
    names = azml_common_features(inputs, production.columns, features)
    if check_only:
        names = []
    results = [azml_feature_drift(n, baseline.columns[n], production.columns[n], settings)
               for n in names]
    samples = {n: (baseline.columns[n], production.columns[n]) for n in names}
    if prediction_column:
        if prediction_column not in baseline.columns:
            raise ValueError(f"prediction_column: {prediction_column!r} is not a column of the "
                             f"baseline ({', '.join(baseline.columns)})")
        predicted = azml_prediction_values(outputs or production, prediction_column)
        if predicted is None:
            raise ValueError(f"prediction_column: {prediction_column!r} is not in the "
                             "production outputs and they have more than one column")
        if check_only:
            return [], {}
        results.append(azml_feature_drift(prediction_column, baseline.columns[prediction_column],
                                          predicted, settings, signal="prediction_drift"))
        samples[prediction_column] = (baseline.columns[prediction_column], predicted)
    return results, samples


def azml_check_drift(
    subscription_id: str, resource_group: str, workspace_name: str, folder: str,
    baseline_path: str = "", baseline_data: str = "", production_path: str = "",
    production_data: str = "", endpoint_name: str = "", deployment_name: str = "",
    collection: str = "model_inputs", outputs_collection: str = "", window_end: str = "",
    lookback_window: str = "P1D", features: Optional[list] = None, prediction_column: str = "",
    require_production_data: bool = False, settings: Optional[AzmlDriftSettings] = None,
    client=None,
) -> AzmlDriftOutcome:
    # Every input is checked before anything is read; nothing is written to Azure.
    settings = azml_check_drift_settings(settings or AzmlDriftSettings())
    features = list(features or [])
    if not all(isinstance(f, str) and f for f in features):
        raise ValueError(f"features: {features!r} must be a list of column names")
    azml_check_drift_sources(baseline_path, baseline_data, production_path, production_data,
                             endpoint_name, deployment_name,
                             [("collection", collection), ("outputs_collection",
                                                           outputs_collection)])
    start, end = azml_window(window_end, lookback_window) if endpoint_name else (None, None)
    if client is None and (baseline_data or production_data or endpoint_name):
        client = azml_ml_client(subscription_id, resource_group, workspace_name)
    baseline = azml_read_source(client, baseline_path, baseline_data, folder)
    production = azml_read_source(client, production_path, production_data, folder, start, end,
                                  (endpoint_name, deployment_name, collection))
    outputs = None
    if endpoint_name and outputs_collection and prediction_column:
        outputs = azml_read_source(client, "", "", folder, start, end,
                                   (endpoint_name, deployment_name, outputs_collection))
    where = (f"{endpoint_name}/{deployment_name}/{collection} from {start:%Y-%m-%dT%H:%M}Z to "
             f"{end:%Y-%m-%dT%H:%M}Z" if endpoint_name else (production_data or "production"))
    facts = {"baseline": baseline_data or "baseline artifact", "baseline rows": baseline.rows,
             "production": where, "production rows": production.rows,
             "records skipped (not tabular)": production.skipped}
    if baseline.rows == 0:
        raise ValueError("baseline: it holds no rows (CSV with a header row, or JSON Lines)")
    if production.rows:  # the columns are checked whenever there are any, enough or not
        azml_drift_results(baseline, production, outputs, features, prediction_column, settings,
                           check_only=True)
    if production.rows < settings.min_production_rows:
        reason = (f"too little production data: {production.rows} rows in {where}, fewer than "
                  f"min_production_rows={settings.min_production_rows}; drift not measured")
        if require_production_data:
            raise ValueError(f"{'endpoint_name' if endpoint_name else 'production_data'}: "
                             f"{reason}")
        return azml_drift_outcome(False, reason, [], {}, facts)
    results, samples = azml_drift_results(baseline, production, outputs, features,
                                          prediction_column, settings)
    drifted = [r.name for r in results if r.drifted]
    reason = (f"drift in {len(drifted)} of {len(results)} features: {', '.join(drifted)}"
              if drifted else f"no drift in {len(results)} features")
    return azml_drift_outcome(bool(drifted), reason, results, samples, facts)


def azml_drift_outcome(drifted: bool, reason: str, results: list, samples: dict,
                       facts: dict) -> AzmlDriftOutcome:
    facts = {**facts, "outcome": reason}
    title = "Drift detected" if drifted else "No drift detected"
    metrics = azml_feature_drift_metrics(results)
    metrics["production_rows"] = facts["production rows"]
    return AzmlDriftOutcome(
        drift_detected=drifted, reason=reason, results=results, metrics=metrics,
        html=azml_drift_html(title, facts, results, samples),
        markdown=azml_drift_markdown(title, facts, results),
    )
