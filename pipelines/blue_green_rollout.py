"""Example: train a new model version and roll it out blue/green with automatic rollback."""

from kfp import dsl

from azml_components import (
    pins,
    recover_rollout,
    register_model,
    safe_rollout,
    use_azure_credentials,
)
from pipelines.diabetes_training import train_diabetes_model


@dsl.pipeline(
    name="blue-green-rollout",
    description="Train a new diabetes model version, register it, and roll it out to an "
    "existing endpoint in traffic steps with smoke tests, restoring the old traffic on failure; "
    "an exit task undoes a rollout whose pod was killed (cancel, lost node).",
)
def blue_green_rollout(
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    new_deployment_name: str,
    subscription_id: str = "",
    model_name: str = "diabetes-ridge",
    model_format: str = "custom",
    alpha: float = 0.1,
    traffic_steps: list = [10, 50, 100],  # noqa: B006 - KFP reads defaults; never mutated
    mirror_percent: int = 0,
    remove_old: bool = True,
    compute: str = "",
    instance_type: str = "",
):
    """Train, register and safely roll out a new model version.

    Args:
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        endpoint_name: Endpoint to roll out to.
        new_deployment_name: Name for the new deployment (must not exist yet).
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        model_name: Name to register the model under.
        model_format: mlflow (no-code) or custom (scoring script + environment).
        alpha: Ridge regularisation strength of the new model.
        traffic_steps: Traffic shares for the new deployment, ending at 100.
        mirror_percent: Share of live traffic mirrored to the new deployment first (0-50).
        remove_old: Delete the previous deployments after a successful rollout.
        compute: Empty for a managed online endpoint, or the name of an attached Kubernetes
            compute to serve on (a Kubernetes online endpoint).
        instance_type: Managed: VM size (empty: Standard_DS3_v2); Kubernetes: the cluster's
            instance type (empty: the cluster's default).
    """
    workspace = {
        "subscription_id": subscription_id,
        "resource_group": resource_group,
        "workspace_name": workspace_name,
    }
    # Runs after everything inside the handler, also when a task failed or its pod was killed:
    # it undoes what this run's rollout left unfinished (and nothing after a success). A cancel
    # may skip it, so safe_rollout and deploy_model also undo such leftovers when they start.
    cleanup = use_azure_credentials(
        recover_rollout(
            endpoint_name=endpoint_name,
            pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            **workspace,
        )
    )
    with dsl.ExitHandler(cleanup, name="rollout-with-cleanup"):
        train = train_diabetes_model(
            model_format=model_format,
            alpha=alpha,
            scoring_requirements=pins.EXAMPLE_SCORING_PACKAGES,
        )
        registered = use_azure_credentials(
            register_model(
                model=train.outputs["model"],
                model_name=model_name,
                model_type=train.outputs["model_type"],
                pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                pipeline_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                **workspace,
            )
        )
        rollout = {
            "registered_model": registered.outputs["registered_model"],
            "endpoint_name": endpoint_name,
            "deployment_name": new_deployment_name,
            "payload_file": train.outputs["smoke_request"],
            "traffic_steps": traffic_steps,
            "mirror_percent": mirror_percent,
            "remove_old": remove_old,
            "compute": compute,
            "instance_type": instance_type,
            "pipeline_run_id": dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            "pipeline_name": dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            **workspace,
        }
        with dsl.If(model_format == "mlflow", name="mlflow-no-code"):
            use_azure_credentials(safe_rollout(**rollout))
        with dsl.Else(name="custom-scoring-script"):
            use_azure_credentials(
                safe_rollout(
                    code=train.outputs["code"],
                    scoring_script="score.py",
                    conda_file="conda.yaml",
                    **rollout,
                )
            )


PIPELINE = blue_green_rollout
