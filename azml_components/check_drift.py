"""The check_drift component."""

from typing import NamedTuple, Optional

from kfp import dsl

from azml_components._component import azure_component
from azml_components.runtime.drift import azml_check_drift
from azml_components.runtime.records import AzmlDriftSettings


@azure_component
def check_drift(
    resource_group: str,
    workspace_name: str,
    metrics: dsl.Output[dsl.Metrics],
    report: dsl.Output[dsl.HTML],
    summary: dsl.Output[dsl.Markdown],
    baseline: Optional[dsl.Input[dsl.Dataset]] = None,
    baseline_data: str = "",
    production: Optional[dsl.Input[dsl.Dataset]] = None,
    production_data: str = "",
    endpoint: Optional[dsl.Input[dsl.Artifact]] = None,
    endpoint_name: str = "",
    deployment_name: str = "",
    collection: str = "model_inputs",
    outputs_collection: str = "",
    window_end: str = "",
    lookback_window: str = "P1D",
    features: list = [],  # noqa: B006 - KFP reads defaults from the signature; never mutated
    prediction_column: str = "",
    numerical_metric: str = "normalized_wasserstein_distance",
    numerical_threshold: float = 0.1,
    categorical_metric: str = "jensen_shannon_distance",
    categorical_threshold: float = 0.1,
    null_value_rate_threshold: float = 0.0,
    data_type_error_rate_threshold: float = 0.0,
    out_of_bounds_rate_threshold: float = 0.0,
    min_production_rows: int = 30,
    require_production_data: bool = False,
    subscription_id: str = "",
) -> NamedTuple("Outputs", [("drift_detected", bool), ("reason", str), ("drifted_features", int)]):
    """Compare production data with a baseline per feature, as Azure ML model monitoring does.

    Production data is what an online deployment's data collector wrote for a time window (the
    workspace blob store's ``modelDataCollector/ENDPOINT/DEPLOYMENT/COLLECTION/yyyy/MM/dd/HH``
    JSON Lines), a data asset or datastore path, or a Dataset artifact (CSV or JSON Lines). The
    baseline is a Dataset artifact (such as the training data CSV) or a registered data asset.
    Each common feature gets Azure ML model monitoring's data drift metric (numerical:
    normalized Wasserstein distance, categorical: Jensen-Shannon distance, threshold 0.1 each,
    as azure-ai-ml's defaults) and its data-quality rates (null value, data type error and
    out-of-bounds rate, threshold 0.0); with ``prediction_column`` the model's outputs get the
    prediction drift signal. ``drift_detected`` is true when any drift signal breaches its
    threshold (data quality is reported, not counted as drift) and is meant for ``dsl.If``. Too
    little production data (fewer rows than ``min_production_rows``) is an outcome:
    ``drift_detected`` false and ``reason`` says so. Nothing is written to Azure.

    Args:
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        baseline: The baseline as a Dataset artifact (a CSV or JSON Lines file, or a folder of
            them). Give this or baseline_data.
        baseline_data: The baseline as a data asset (azureml:NAME:VERSION) or a datastore path
            (azureml://datastores/NAME/paths/PATH). Give this or baseline.
        production: Production data as a Dataset artifact (CSV or JSON Lines, the data
            collector's records too). Give one of production, production_data or an endpoint.
        production_data: Production data as a data asset (azureml:NAME:VERSION) or datastore
            path, such as the asset the data collector registers.
        endpoint: The endpoint output of deploy_model or safe_rollout (its metadata names the
            endpoint and deployment); its collected data is read.
        endpoint_name: Online endpoint whose collected data is read (instead of endpoint).
        deployment_name: Deployment whose collected data is read; empty takes the one the
            endpoint artifact names.
        collection: The data collector's collection holding the model inputs (custom logging);
            request and response (payload logging) are not tabular and are refused.
        outputs_collection: The collection holding the model outputs, for prediction drift
            (with prediction_column); empty reads predictions from the production data.
        window_end: End of the production window (ISO 8601 time); empty means now.
        lookback_window: Length of the production window, an ISO 8601 duration in days, hours
            or minutes (P1D, PT6H), as Azure ML's lookback_window_size.
        features: Columns to compare; empty compares every column baseline and production
            share (the prediction column excepted).
        prediction_column: The baseline's column of model outputs (or labels) to compare with
            the production outputs (prediction drift); empty skips prediction drift.
        numerical_metric: normalized_wasserstein_distance, jensen_shannon_distance,
            population_stability_index or two_sample_kolmogorov_smirnov_test (a p-value).
        numerical_threshold: A numerical feature drifts above this value (below it for a
            p-value test).
        categorical_metric: jensen_shannon_distance, population_stability_index or
            pearsons_chi_squared_test (a p-value).
        categorical_threshold: A categorical feature drifts above this value (below it for a
            p-value test).
        null_value_rate_threshold: Highest acceptable share of nulls per feature (0 to 1).
        data_type_error_rate_threshold: Highest acceptable share of values whose type differs
            from the baseline's (0 to 1).
        out_of_bounds_rate_threshold: Highest acceptable share of values outside the baseline's
            range or set of categories (0 to 1).
        min_production_rows: Fewer production rows than this is "too little data": no drift is
            measured.
        require_production_data: Fail (instead of reporting too little data) when the window
            holds fewer than min_production_rows rows.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.

    Returns:
        metrics: Per feature its drift metric and data-quality rates, and drifted_features.
        report: A self-contained HTML page: the per-feature table and baseline vs production
            histograms (inline SVG).
        summary: The per-feature table in Markdown.
        drift_detected: True when any feature or the prediction drifted.
        reason: What was found, or why nothing could be measured.
        drifted_features: How many features (and the prediction) drifted.

    """
    import os
    import tempfile
    from collections import namedtuple

    if endpoint is not None and not endpoint_name:
        endpoint_name = endpoint.metadata.get("endpoint_name", "")
        deployment_name = deployment_name or endpoint.metadata.get("deployment_name", "")
        if not endpoint_name:
            raise ValueError("endpoint: has no endpoint_name in its metadata; pass the endpoint "
                             "output of deploy_model or safe_rollout")
    outcome = azml_check_drift(
        subscription_id=subscription_id, resource_group=resource_group,
        workspace_name=workspace_name, folder=tempfile.mkdtemp(prefix="check-drift-"),
        baseline_path=baseline.path if baseline is not None else "", baseline_data=baseline_data,
        production_path=production.path if production is not None else "",
        production_data=production_data, endpoint_name=endpoint_name,
        deployment_name=deployment_name, collection=collection,
        outputs_collection=outputs_collection, window_end=window_end,
        lookback_window=lookback_window, features=features, prediction_column=prediction_column,
        require_production_data=require_production_data,
        settings=AzmlDriftSettings(
            numerical_metric=numerical_metric, numerical_threshold=numerical_threshold,
            categorical_metric=categorical_metric, categorical_threshold=categorical_threshold,
            null_value_rate_threshold=null_value_rate_threshold,
            data_type_error_rate_threshold=data_type_error_rate_threshold,
            out_of_bounds_rate_threshold=out_of_bounds_rate_threshold,
            min_production_rows=min_production_rows,
        ),
    )
    for name, value in sorted(outcome.metrics.items()):
        metrics.log_metric(name, value)
    for artifact, text in ((report, outcome.html), (summary, outcome.markdown)):
        os.makedirs(os.path.dirname(artifact.path) or ".", exist_ok=True)
        with open(artifact.path, "w", encoding="utf-8") as out:
            out.write(text)
    print(outcome.markdown)
    drifted = sum(1 for r in outcome.results if r.drifted)
    outputs = namedtuple("Outputs", ["drift_detected", "reason", "drifted_features"])
    return outputs(outcome.drift_detected, outcome.reason, drifted)
