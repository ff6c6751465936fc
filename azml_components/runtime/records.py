# Typed records that cross runtime modules: NamedTuples, so a misspelt field is an AttributeError
# where it is read (and a lint error), not a KeyError in a pod. Components embed the classes they
# reach like the functions (azml_components._component), so each is a plain top-level class
# whose annotations name builtins or typing only.
from typing import NamedTuple, Optional


class AzmlDeploymentOptions(NamedTuple):
    # The deployment deploy_model and safe_rollout create, as azml_deployment_options checked
    # it; the fields follow azml_components/settings.py (ONLINE_DEPLOYMENT).
    # <settings: online_deployment>
    code_path: str = ""
    code_in_model: str = ""
    scoring_script: str = "score.py"
    conda_file: str = ""
    image: str = ""
    environment: str = ""
    compute: str = ""
    instance_type: str = ""
    instance_count: int = 1
    resource_requests: Optional[dict] = None
    resource_limits: Optional[dict] = None
    auth_mode: str = "key"
    environment_variables: Optional[dict] = None
    request_settings: Optional[dict] = None
    liveness_probe: Optional[dict] = None
    readiness_probe: Optional[dict] = None
    app_insights_enabled: bool = False
    egress_public_network_access: str = "enabled"
    description: str = ""
    tags: Optional[dict] = None
    endpoint_description: str = ""
    endpoint_tags: Optional[dict] = None
    public_network_access: str = ""
    autoscale: Optional[dict] = None
    scale_settings: Optional[dict] = None
    identity_type: str = ""
    user_assigned_identities: Optional[list] = None
    data_collector: Optional[dict] = None
    # </settings>


class AzmlDeploymentState(NamedTuple):
    # What deploying reads before its first write: the endpoint (None when new), its
    # deployments and live and mirror traffic, the model, the code folder (a download of the
    # model's own when code_in_model) and the target (kind, compute, instance type, resources).
    endpoint: object
    deployments: list
    traffic: dict
    mirror: dict
    model: object
    code_path: str
    target: dict


class AzmlDeploymentPlan(NamedTuple):
    # Every write decided before the first: the environment, whether the endpoint and the
    # deployment are new, and the traffic afterwards.
    code_path: str
    environment: dict
    create_endpoint: bool
    new_deployment: bool
    traffic: dict
    mirror: dict
    target: dict
    # What changes on an existing endpoint (description, public_network_access, tags), written
    # with its traffic (azml_endpoint_changes); empty: nothing.
    endpoint_changes: Optional[dict] = None


class AzmlRolloutTarget(NamedTuple):
    # Where a rollout goes and what it deploys; lineage: the tags naming the KFP run.
    endpoint_name: str
    deployment_name: str
    model_id: str
    lineage: Optional[dict] = None



class AzmlBatchJobOverrides(NamedTuple):
    # score_batch's settings for its one job, each replacing the deployment's (None or "": the
    # deployment's); runtime/batch_overrides.py checks them and says how they reach Azure.
    mini_batch_size: Optional[int] = None
    instance_count: Optional[int] = None
    error_threshold: Optional[int] = None
    max_retries: Optional[int] = None
    retry_timeout_seconds: Optional[int] = None
    output_file_name: str = ""
    output_path: str = ""


class AzmlCommandJobOptions(NamedTuple):
    # What run_command_job submits, as azml_command_job_options checked it (no Azure call yet);
    # runtime/command_job_options.py has each rule and its source.
    command: str
    code_path: str = ""
    environment: Optional[dict] = None  # azml_resolve_environment's answer
    compute: str = ""  # "" is serverless
    instance_type: str = ""
    instance_count: int = 1
    distribution: Optional[dict] = None  # {"type": "pytorch"|"mpi", "process_count_per_instance"}
    environment_variables: Optional[dict] = None
    experiment_name: str = ""
    display_name: str = ""
    description: str = ""
    tags: Optional[dict] = None
    inputs: Optional[dict] = None  # name -> literal, or {"type": ..., "path": ...}
    outputs: Optional[dict] = None  # name -> output type
    timeout_seconds: int = 86400


# <monitoring: check_drift and create_monitor (issue 22)>
class AzmlDriftSettings(NamedTuple):
    # What check_drift compares with, as Azure ML model monitoring's defaults set it
    # (azure-ai-ml 1.35.2 entities/_monitoring/thresholds.py: NumericalDriftMetrics and
    # CategoricalDriftMetrics._get_default_thresholds, DataQualityMetrics*: 0.0).
    numerical_metric: str = "normalized_wasserstein_distance"
    numerical_threshold: float = 0.1
    categorical_metric: str = "jensen_shannon_distance"
    categorical_threshold: float = 0.1
    null_value_rate_threshold: float = 0.0
    data_type_error_rate_threshold: float = 0.0
    out_of_bounds_rate_threshold: float = 0.0
    min_production_rows: int = 30


class AzmlFeatureDrift(NamedTuple):
    # One feature's (or the prediction's) result: the drift metric, its threshold and whether
    # it breached, and the data-quality rates with the ones over their thresholds.
    name: str
    signal: str
    kind: str
    metric: str
    value: Optional[float]
    threshold: float
    drifted: bool
    null_value_rate: float
    data_type_error_rate: float
    out_of_bounds_rate: float
    quality_breaches: list
    baseline_rows: int
    production_rows: int


class AzmlTable(NamedTuple):
    # Rows read from files or collected data: column name -> values (None for a missing cell),
    # what was read and what was skipped (records that were not tabular).
    columns: dict
    rows: int
    sources: list
    skipped: int = 0


class AzmlDriftOutcome(NamedTuple):
    # check_drift's answer: whether any drift signal breached, why (or why nothing could be
    # measured), the per-feature results, the KFP metrics and both reports.
    drift_detected: bool
    reason: str
    results: list
    metrics: dict
    html: str
    markdown: str
# </monitoring>
