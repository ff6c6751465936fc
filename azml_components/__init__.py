"""Kubeflow Pipelines v2 components for Azure Machine Learning.

Importing this package (to build or compile pipelines) needs only kfp; the Azure SDKs are
imported inside the components when they run.
"""

from azml_components.batch_endpoints import deploy_batch_model, score_batch
from azml_components.check_drift import check_drift
from azml_components.create_monitor import create_monitor
from azml_components.credentials import use_azure_credentials
from azml_components.delete_resources import delete_deployment, delete_endpoint
from azml_components.deploy_model import deploy_model
from azml_components.invoke_endpoint import invoke_endpoint
from azml_components.promote_model import promote_model
from azml_components.recover_batch_jobs import recover_batch_jobs
from azml_components.recover_command_jobs import recover_command_jobs
from azml_components.recover_rollout import recover_rollout
from azml_components.register_model import register_model
from azml_components.run_command_job import run_command_job
from azml_components.safe_rollout import safe_rollout
from azml_components.set_traffic import set_traffic

__version__ = "0.1.0"

__all__ = [
    "check_drift",
    "components",
    "create_monitor",
    "delete_deployment",
    "delete_endpoint",
    "deploy_batch_model",
    "deploy_model",
    "invoke_endpoint",
    "promote_model",
    "recover_batch_jobs",
    "recover_command_jobs",
    "recover_rollout",
    "register_model",
    "run_command_job",
    "safe_rollout",
    "score_batch",
    "set_traffic",
    "use_azure_credentials",
]


def components() -> dict:
    """Return every component of the package by name (what ``compiled/components`` holds)."""
    return {
        "check_drift": check_drift,
        "create_monitor": create_monitor,
        "delete_deployment": delete_deployment,
        "delete_endpoint": delete_endpoint,
        "deploy_batch_model": deploy_batch_model,
        "deploy_model": deploy_model,
        "invoke_endpoint": invoke_endpoint,
        "promote_model": promote_model,
        "recover_batch_jobs": recover_batch_jobs,
        "recover_command_jobs": recover_command_jobs,
        "recover_rollout": recover_rollout,
        "register_model": register_model,
        "run_command_job": run_command_job,
        "safe_rollout": safe_rollout,
        "score_batch": score_batch,
        "set_traffic": set_traffic,
    }
