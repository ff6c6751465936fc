"""Example: train -> register -> deploy to a batch endpoint -> score a held-out table -> check."""

from kfp import dsl

from azml_components import (
    deploy_batch_model,
    pins,
    recover_batch_jobs,
    register_model,
    score_batch,
    use_azure_credentials,
)
from pipelines.diabetes_batch import check_batch_predictions, diabetes_held_out_table
from pipelines.diabetes_training import train_diabetes_model


@dsl.pipeline(
    name="train-register-batch-score",
    description="Train a diabetes regression model, register it in Azure ML, deploy it to a "
    "batch endpoint (MLflow, no code), score a held-out table with a batch job and check the "
    "predictions against the model's own; an exit task cancels a batch job whose task was "
    "killed (cancel, lost node).",
)
def train_register_batch_score(
    resource_group: str,
    workspace_name: str,
    subscription_id: str = "",
    model_name: str = "diabetes-ridge-batch",
    endpoint_name: str = "diabetes-batch",
    deployment_name: str = "mlflow",
    compute: str = "cpu-cluster",
    mini_batch_size: int = 1,
):
    """Train, register, deploy for batch scoring, score held-out rows and check them.

    Args:
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        model_name: Name to register the model under.
        endpoint_name: Batch endpoint to create or update.
        deployment_name: Batch deployment to create or update (made the default).
        compute: Compute cluster the batch jobs run on.
        mini_batch_size: Files per mini-batch.

    """
    workspace = {
        "subscription_id": subscription_id,
        "resource_group": resource_group,
        "workspace_name": workspace_name,
    }
    # Runs after everything inside the handler, also when a task failed or its pod was killed:
    # it cancels the batch jobs of this run still running on the endpoint (none after a
    # success). A retry of score_batch takes its job over instead of submitting a second one.
    cleanup = use_azure_credentials(recover_batch_jobs(
        endpoint_name=endpoint_name,
        pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        **workspace,
    ))
    with dsl.ExitHandler(cleanup, name="scoring-with-cleanup"):
        train = train_diabetes_model(
            model_format="mlflow", scoring_requirements=pins.EXAMPLE_SCORING_PACKAGES
        )
        registered = use_azure_credentials(register_model(
            model=train.outputs["model"],
            model_name=model_name,
            model_type=train.outputs["model_type"],
            description="Ridge regression on scikit-learn's diabetes data set",
            pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            pipeline_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            **workspace,
        ))
        deployed = use_azure_credentials(deploy_batch_model(
            registered_model=registered.outputs["registered_model"],
            endpoint_name=endpoint_name,
            deployment_name=deployment_name,
            compute=compute,
            mini_batch_size=mini_batch_size,
            pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            pipeline_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            **workspace,
        ))
        table = diabetes_held_out_table()
        scored = use_azure_credentials(score_batch(
            endpoint=deployed.outputs["endpoint"],
            dataset=table.outputs["table"],
            pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            pipeline_task_name=dsl.PIPELINE_TASK_NAME_PLACEHOLDER,
            **workspace,
        ))
        check_batch_predictions(
            model=train.outputs["model"],
            table=table.outputs["table"],
            predictions=scored.outputs["predictions"],
        )


PIPELINE = train_register_batch_score
