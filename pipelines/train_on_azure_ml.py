"""Example: train on Azure ML compute -> register without download -> deploy -> smoke test.

Training is an Azure ML command job; its MLflow output is registered where the job wrote it.
Credentials come from `azcreds`.

The training script is pipelines/azure_ml_training/train.py; the pipeline carries it (and the
job's conda file, built from azml_components.pins) to the job as a code folder artifact.
"""

from pathlib import Path

from kfp import dsl

from azml_components import (
    deploy_model,
    invoke_endpoint,
    pins,
    recover_command_jobs,
    register_model,
    run_command_job,
    use_azure_credentials,
)

TRAINING_SCRIPT = (Path(__file__).resolve().parent / "azure_ml_training" / "train.py").read_text()
# The job's environment: scikit-learn, pandas and the MLflow that azureml-mlflow (Azure ML's
# MLflow tracking plugin) goes with, on Azure ML's base image.
CONDA_FILE = (
    "name: diabetes-training\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n"
    "  - pip\n  - pip:\n" + "".join(f"    - {p}\n" for p in pins.TRAINING_JOB_PACKAGES)
)
# Two held-out diabetes rows, in the shape an MLflow no-code deployment takes.
SMOKE_REQUEST = (
    '{"input_data": {"columns": ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", '
    '"s6"], "index": [0, 1], "data": [[0.0381, 0.0507, 0.0617, 0.0219, -0.0442, -0.0348, '
    '-0.0434, -0.0026, 0.0199, -0.0176], [-0.0019, -0.0446, -0.0515, -0.0263, -0.0084, '
    '-0.0192, 0.0744, -0.0395, -0.0683, -0.0922]]}}'
)


@dsl.component(base_image=pins.BASE_IMAGE)
def training_code(files: dict, code: dsl.Output[dsl.Artifact]):
    """Write the training job's code folder.

    Args:
        files: File name -> content.

    Returns:
        code: The folder, uploaded by run_command_job as the job's code snapshot.

    """
    import os

    os.makedirs(code.path, exist_ok=True)
    for name, content in files.items():
        with open(os.path.join(code.path, name), "w", encoding="utf-8") as out:
            out.write(content)


@dsl.pipeline(
    name="train-on-azure-ml",
    description="Train a diabetes regression model as an Azure ML command job, register its "
    "MLflow output where the job wrote it, deploy it to a managed online endpoint and "
    "smoke-test the endpoint.",
)
def train_on_azure_ml(
    resource_group: str,
    workspace_name: str,
    subscription_id: str = "",
    compute: str = "cpu-cluster",
    instance_type: str = "",
    alpha: float = 0.1,
    model_name: str = "diabetes-azure-trained",
    endpoint_name: str = "diabetes-trained",
    deployment_name: str = "blue",
):
    """Train on Azure ML, register, deploy and smoke-test.

    Args:
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        compute: Compute cluster the training job runs on; empty for serverless compute.
        instance_type: VM size on serverless compute.
        alpha: Ridge regularisation strength.
        model_name: Name to register the model under.
        endpoint_name: Online endpoint to create or update.
        deployment_name: Deployment to create or update under the endpoint.

    """
    workspace = {
        "subscription_id": subscription_id,
        "resource_group": resource_group,
        "workspace_name": workspace_name,
    }
    # The exit task cancels a training job this run left running (a killed pod, a cancel).
    cleanup = use_azure_credentials(recover_command_jobs(
        pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, **workspace))
    with dsl.ExitHandler(cleanup, name="train-and-deploy"):
        code = training_code(files={"train.py": TRAINING_SCRIPT})
        train = use_azure_credentials(run_command_job(
            code=code.outputs["code"],
            command="python train.py --alpha ${{inputs.alpha}} --model_dir ${{outputs.model}}",
            inputs={"alpha": alpha},
            outputs={"model": "mlflow_model"},
            model_output="model",
            conda_file=CONDA_FILE,
            compute=compute,
            instance_type=instance_type,
            experiment_name="diabetes-training",
            display_name="diabetes ridge regression",
            pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            pipeline_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            pipeline_task_name=dsl.PIPELINE_TASK_NAME_PLACEHOLDER,
            **workspace,
        ))
        registered = use_azure_credentials(register_model(
            model=train.outputs["model"],
            model_name=model_name,
            model_type="mlflow_model",
            description="Ridge regression on scikit-learn's diabetes data, trained on Azure ML",
            pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            pipeline_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            **workspace,
        ))
        deployed = use_azure_credentials(deploy_model(
            registered_model=registered.outputs["registered_model"],
            endpoint_name=endpoint_name,
            deployment_name=deployment_name,
            pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            pipeline_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            **workspace,
        ))
        use_azure_credentials(invoke_endpoint(
            endpoint=deployed.outputs["endpoint"], payload=SMOKE_REQUEST, **workspace))


PIPELINE = train_on_azure_ml
