# Drift and data-quality metrics, per feature, as Azure ML model monitoring computes them: pure
# numpy/scipy, no Azure and no I/O, so check_drift, create_monitor's checks and the report share
# one implementation. Sources: Microsoft's "Model monitoring" concept page (concept-model-
# monitoring: signals, metrics, data-quality definitions), azure-ai-ml 1.35.2 entities/_monitoring/
# thresholds.py (default metrics and thresholds), and Azure/azureml-assets assets/model_monitoring/
# components/src (data_drift_compute_metrics/{numerical,categorical}_data_drift_metrics.py: the
# formulas; shared_utilities/df_utils.py: numerical or categorical; model_monitor_evaluate_metrics_
# threshold/evaluate_metrics_threshold.py: which way a threshold is breached).
from typing import Optional

from azml_components.runtime.records import AzmlDriftSettings, AzmlFeatureDrift


def azml_drift_metric_names() -> dict:
    # The metrics each feature type accepts (azure-ai-ml NumericalDriftMetrics and
    # CategoricalDriftMetrics; MonitorMetricName values).
    return {
        "numerical": ["normalized_wasserstein_distance", "jensen_shannon_distance",
                      "population_stability_index", "two_sample_kolmogorov_smirnov_test"],
        "categorical": ["jensen_shannon_distance", "population_stability_index",
                        "pearsons_chi_squared_test"],
    }


def azml_drift_is_test(metric: str) -> bool:
    # p-value tests breach BELOW their threshold; every other metric above it
    # (evaluate_metrics_threshold.py, Metric_Value_Should_Greater_Than_Threshold).
    return metric in ("two_sample_kolmogorov_smirnov_test", "pearsons_chi_squared_test")


def azml_check_drift_settings(settings: AzmlDriftSettings) -> AzmlDriftSettings:
    # Metric names as the SDK spells them; thresholds in the metric's range: distances >= 0
    # (Jensen-Shannon with log base 2 is at most 1), p-values and rates in [0, 1].
    import math

    names = azml_drift_metric_names()
    for field, kind in (("numerical_metric", "numerical"), ("categorical_metric", "categorical")):
        if getattr(settings, field) not in names[kind]:
            raise ValueError(f"{field}: {getattr(settings, field)!r} is not a {kind} drift "
                             f"metric; use one of {', '.join(names[kind])}")
    for field, metric in (("numerical_threshold", settings.numerical_metric),
                          ("categorical_threshold", settings.categorical_metric)):
        value = getattr(settings, field)
        bounded = azml_drift_is_test(metric) or metric == "jensen_shannon_distance"
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 or (
                bounded and value > 1):
            raise ValueError(f"{field}: {value!r} is out of range for {metric}; it must be "
                             + ("between 0 and 1" if bounded else "a number >= 0"))
    for field in ("null_value_rate_threshold", "data_type_error_rate_threshold",
                  "out_of_bounds_rate_threshold"):
        value = getattr(settings, field)
        if not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"{field}: {value!r} is out of range; a rate threshold must be "
                             "between 0 and 1")
    if not isinstance(settings.min_production_rows, int) or settings.min_production_rows < 1:
        raise ValueError(f"min_production_rows: {settings.min_production_rows!r} must be a "
                         "whole number >= 1")
    return settings


def azml_is_null(value) -> bool:
    # Null: JSON null, an empty CSV cell or NaN.
    return value is None or value == "" or (isinstance(value, float) and value != value)


def azml_is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def azml_feature_kind(values: list) -> str:
    # df_utils.is_categorical: strings and booleans are categorical, floats numerical, and an
    # integer column is categorical when fewer than 5% of its values are distinct.
    present = [v for v in values if not azml_is_null(v)]
    if not present or not all(azml_is_number(v) for v in present):
        return "categorical"
    if all(isinstance(v, int) for v in present):
        return "categorical" if len(set(present)) / len(present) < 0.05 else "numerical"
    return "numerical"


def azml_numbers(values: list):
    import numpy as np

    return np.array([float(v) for v in values if azml_is_number(v) and v == v], dtype=float)


def azml_shared_bins(baseline, production):
    # One set of bin edges for both samples (numpy's Sturges rule over the pooled values), as
    # Azure bins both samples alike for the histogram metrics (get_dual_histogram_bin_edges).
    import numpy as np

    pooled = np.concatenate([baseline, production])
    if pooled.min() == pooled.max():
        return np.array([pooled.min() - 0.5, pooled.max() + 0.5])
    return np.histogram_bin_edges(pooled, bins="sturges")


def azml_numerical_drift(metric: str, baseline, production) -> float:
    # numerical_data_drift_metrics.py: Wasserstein over the baseline's sample standard
    # deviation (at least 0.001); Jensen-Shannon (base 2) and PSI (counts + 1) on shared bins;
    # the two-sample Kolmogorov-Smirnov test's p-value.
    import numpy as np
    from scipy.spatial import distance
    from scipy.stats import ks_2samp, wasserstein_distance

    if metric == "normalized_wasserstein_distance":
        spread = float(np.std(baseline, ddof=1)) if len(baseline) > 1 else 0.0
        return float(wasserstein_distance(baseline, production) / max(spread, 0.001))
    if metric == "two_sample_kolmogorov_smirnov_test":
        return float(ks_2samp(baseline, production).pvalue)
    edges = azml_shared_bins(baseline, production)
    base_counts = np.histogram(baseline, bins=edges)[0].astype(float)
    prod_counts = np.histogram(production, bins=edges)[0].astype(float)
    if metric == "jensen_shannon_distance":
        return float(distance.jensenshannon(base_counts / len(baseline),
                                            prod_counts / len(production), base=2))
    return azml_psi(base_counts, prod_counts)


def azml_psi(base_counts, prod_counts) -> float:
    # Population stability index with one added to every count (Laplace smoothing, as Azure).
    import numpy as np

    base = (base_counts + 1) / (base_counts.sum() + len(base_counts))
    prod = (prod_counts + 1) / (prod_counts.sum() + len(prod_counts))
    return float(np.sum((prod - base) * np.log(prod / base)))


def azml_category_counts(baseline: list, production: list):
    # Counts per category over the union of both samples' categories (as text), sorted.
    import numpy as np

    categories = sorted({str(v) for v in baseline} | {str(v) for v in production})
    base = np.array([sum(1 for v in baseline if str(v) == c) for c in categories], dtype=float)
    prod = np.array([sum(1 for v in production if str(v) == c) for c in categories], dtype=float)
    return categories, base, prod


def azml_categorical_drift(metric: str, baseline: list, production: list) -> float:
    # categorical_data_drift_metrics.py: Jensen-Shannon (base 2) of the frequencies, PSI with
    # counts + 1, and Pearson's chi-squared p-value of production counts against the baseline's
    # frequencies scaled to production's size (a category the baseline never saw is a p of 0).
    from scipy.spatial import distance
    from scipy.stats import chisquare

    _, base, prod = azml_category_counts(baseline, production)
    if metric == "jensen_shannon_distance":
        return float(distance.jensenshannon(base / base.sum(), prod / prod.sum(), base=2))
    if metric == "population_stability_index":
        return azml_psi(base, prod)
    expected = base / base.sum() * prod.sum()
    if ((expected == 0) & (prod > 0)).any():
        return 0.0
    seen = expected > 0
    if seen.sum() < 2:
        return 1.0
    return float(chisquare(prod[seen], expected[seen]).pvalue)


def azml_quality_rates(kind: str, baseline: list, production: list) -> tuple:
    # Data quality (concept-model-monitoring, "Data quality metrics"): the null value rate; the
    # data type error rate (values not of the type inferred from the baseline); the out-of-
    # bounds rate (numbers outside the baseline's [min, max], categories not in its set).
    # Rates are over all production rows, rounded to Azure's 0.00001 precision.
    total = len(production)
    if not total:
        return 0.0, 0.0, 0.0
    present = [v for v in production if not azml_is_null(v)]
    if kind == "numerical":
        wrong = [v for v in present if not azml_is_number(v)]
        numbers = [float(v) for v in present if azml_is_number(v)]
        known = azml_numbers(baseline)
        outside = [v for v in numbers if v < known.min() or v > known.max()] if len(known) else []
    else:
        base_types = {type(v) for v in baseline if not azml_is_null(v)}
        wrong = [v for v in present if type(v) not in base_types]
        known_set = {str(v) for v in baseline if not azml_is_null(v)}
        outside = [v for v in present if type(v) in base_types and str(v) not in known_set]
    return tuple(round(n / total, 5) for n in (total - len(present), len(wrong), len(outside)))


def azml_feature_drift(name: str, baseline: list, production: list,
                       settings: AzmlDriftSettings, signal: str = "data_drift",
                       kind: Optional[str] = None) -> AzmlFeatureDrift:
    # One feature's drift metric (the feature type's configured metric) and quality rates.
    kind = kind or azml_feature_kind(baseline)
    metric = settings.numerical_metric if kind == "numerical" else settings.categorical_metric
    threshold = (settings.numerical_threshold if kind == "numerical"
                 else settings.categorical_threshold)
    if kind == "numerical":
        base_values, prod_values = azml_numbers(baseline), azml_numbers(production)
        value = (azml_numerical_drift(metric, base_values, prod_values)
                 if len(base_values) and len(prod_values) else None)
    else:
        base_values = [v for v in baseline if not azml_is_null(v)]
        prod_values = [v for v in production if not azml_is_null(v)]
        value = (azml_categorical_drift(metric, base_values, prod_values)
                 if base_values and prod_values else None)
    drifted = value is not None and (
        value < threshold if azml_drift_is_test(metric) else value > threshold)
    rates = azml_quality_rates(kind, baseline, production)
    limits = (settings.null_value_rate_threshold, settings.data_type_error_rate_threshold,
              settings.out_of_bounds_rate_threshold)
    return AzmlFeatureDrift(
        name=name, signal=signal, kind=kind, metric=metric, value=value, threshold=threshold,
        drifted=bool(drifted), null_value_rate=rates[0], data_type_error_rate=rates[1],
        out_of_bounds_rate=rates[2],
        quality_breaches=[label for label, rate, limit in zip(
            ("null_value_rate", "data_type_error_rate", "out_of_bounds_rate"), rates, limits,
            strict=True) if rate > limit],
        baseline_rows=len(baseline), production_rows=len(production),
    )


def azml_histogram(kind: str, baseline: list, production: list) -> tuple:
    # What the report plots: (labels, baseline frequencies, production frequencies) on shared
    # bins (numerical) or over the union of categories (categorical, at most 20 shown).
    if kind == "numerical":
        import numpy as np

        base, prod = azml_numbers(baseline), azml_numbers(production)
        if not len(base) or not len(prod):
            return [], [], []
        edges = azml_shared_bins(base, prod)
        base_f = np.histogram(base, bins=edges)[0] / len(base)
        prod_f = np.histogram(prod, bins=edges)[0] / len(prod)
        labels = [f"{edges[i]:.3g}" for i in range(len(edges) - 1)]
        return labels, [float(v) for v in base_f], [float(v) for v in prod_f]
    categories, base_c, prod_c = azml_category_counts(
        [v for v in baseline if not azml_is_null(v)],
        [v for v in production if not azml_is_null(v)])
    base_f = base_c / max(base_c.sum(), 1)
    prod_f = prod_c / max(prod_c.sum(), 1)
    return categories[:20], [float(v) for v in base_f[:20]], [float(v) for v in prod_f[:20]]


def azml_common_features(baseline: dict, production: dict, features: list) -> list:
    # The features compared: the given list (each must be in both), or every column both hold.
    if features:
        for feature in features:
            where = [label for label, data in (("baseline", baseline), ("production data",
                                                production)) if feature not in data]
            if where:
                raise ValueError(f"features: {feature!r} is not a column of the "
                                 f"{' or the '.join(where)}")
        return list(features)
    common = [name for name in baseline if name in production]
    if not common:
        raise ValueError(
            "baseline: it has no column in common with the production data (baseline: "
            f"{', '.join(sorted(baseline)) or 'none'}; production: "
            f"{', '.join(sorted(production)) or 'none'}); column names must match exactly")
    return common
