"""Example: train -> register -> deploy -> smoke test, with credentials from `azcreds`."""

from kfp import dsl

from azml_components import (
    deploy_model,
    invoke_endpoint,
    pins,
    register_model,
    use_azure_credentials,
)
from pipelines.diabetes_training import train_diabetes_model


@dsl.pipeline(
    name="train-register-deploy",
    description="Train a diabetes regression model, register it in Azure ML, deploy it to a "
    "managed or Kubernetes online endpoint and smoke-test the endpoint with held-out rows.",
)
def train_register_deploy(
    resource_group: str,
    workspace_name: str,
    subscription_id: str = "",
    model_name: str = "diabetes-ridge",
    model_format: str = "mlflow",
    endpoint_name: str = "diabetes-demo",
    deployment_name: str = "blue",
    compute: str = "",
    instance_type: str = "",
    instance_count: int = 1,
):
    """Train, register, deploy and smoke-test a model.

    Args:
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        model_name: Name to register the model under.
        model_format: mlflow (no-code deployment) or custom (scoring script + environment).
        endpoint_name: Online endpoint to create or update.
        deployment_name: Deployment to create or update under the endpoint.
        compute: Empty for a managed online endpoint, or the name of an attached Kubernetes
            compute to serve on (a Kubernetes online endpoint).
        instance_type: Managed: VM size (empty: Standard_DS3_v2); Kubernetes: the cluster's
            instance type (empty: the cluster's default).
        instance_count: Number of instances.

    """
    workspace = {
        "subscription_id": subscription_id,
        "resource_group": resource_group,
        "workspace_name": workspace_name,
    }
    train = train_diabetes_model(
        model_format=model_format, scoring_requirements=pins.EXAMPLE_SCORING_PACKAGES
    )
    registered = register_model(
        model=train.outputs["model"],
        model_name=model_name,
        model_type=train.outputs["model_type"],
        description="Ridge regression on scikit-learn's diabetes data set",
        pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        pipeline_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
        **workspace,
    )
    use_azure_credentials(registered)
    deployment = {
        "registered_model": registered.outputs["registered_model"],
        "endpoint_name": endpoint_name,
        "deployment_name": deployment_name,
        "compute": compute,
        "instance_type": instance_type,
        "instance_count": instance_count,
        "pipeline_run_id": dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        "pipeline_name": dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
        **workspace,
    }
    with dsl.If(model_format == "mlflow", name="mlflow-no-code"):
        deployed = use_azure_credentials(deploy_model(**deployment))
        use_azure_credentials(
            invoke_endpoint(
                endpoint=deployed.outputs["endpoint"],
                payload_file=train.outputs["smoke_request"],
                **workspace,
            )
        )
    with dsl.Else(name="custom-scoring-script"):
        deployed = use_azure_credentials(
            deploy_model(
                code=train.outputs["code"],
                scoring_script="score.py",
                conda_file="conda.yaml",
                **deployment,
            )
        )
        use_azure_credentials(
            invoke_endpoint(
                endpoint=deployed.outputs["endpoint"],
                payload_file=train.outputs["smoke_request"],
                **workspace,
            )
        )


PIPELINE = train_register_deploy
