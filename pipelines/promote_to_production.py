"""Example: dev -> registry -> prod, with one credential per environment.

Train and register in dev, evaluate against what prod serves, promote to an Azure ML registry,
and roll out in prod with automatic rollback.
"""

from kfp import dsl

from azml_components import (
    pins,
    promote_model,
    recover_rollout,
    register_model,
    safe_rollout,
    use_azure_credentials,
)
from pipelines.diabetes_training import train_diabetes_model
from pipelines.promotion_gate import evaluate_against_serving, held_out_rows

# One Kubernetes secret per environment (keys AZ_SUBSCRIPTION_ID, AZ_TENANT_ID, AZ_CLIENT_ID,
# AZ_CLIENT_SECRET): the dev service principal reaches the dev workspace and the registry, the
# prod one the prod workspace and the registry.
DEV_SECRET = "azcreds-dev"
PROD_SECRET = "azcreds-prod"


@dsl.pipeline(
    name="promote-to-production",
    description="Train and register a diabetes model in the dev workspace, compare it with the "
    "model the prod endpoint serves, promote it to an Azure ML registry when it is at least as "
    "good, and roll it out in the prod workspace in traffic steps with smoke tests; an exit "
    "task undoes a rollout whose pod was killed.",
)
def promote_to_production(
    dev_resource_group: str,
    dev_workspace_name: str,
    registry_name: str,
    prod_resource_group: str,
    prod_workspace_name: str,
    endpoint_name: str,
    new_deployment_name: str,
    dev_subscription_id: str = "",
    prod_subscription_id: str = "",
    model_name: str = "diabetes-ridge",
    alpha: float = 0.1,
    tolerance: float = 0.0,
    traffic_steps: list = [10, 100],  # noqa: B006 - KFP reads defaults; never mutated
):
    """Train in dev, gate on prod's serving model, promote through a registry, roll out in prod.

    Args:
        dev_resource_group: Resource group of the dev workspace.
        dev_workspace_name: The dev workspace (the model is trained and registered there).
        registry_name: The Azure ML registry between dev and prod.
        prod_resource_group: Resource group of the prod workspace.
        prod_workspace_name: The prod workspace (its endpoint serves the registry's model).
        endpoint_name: The prod online endpoint (created by the first run).
        new_deployment_name: Name of the new prod deployment (must not exist yet).
        dev_subscription_id: Subscription of the dev workspace; empty: the dev secret's.
        prod_subscription_id: Subscription of the prod workspace; empty: the prod secret's.
        model_name: Name of the model in dev and in the registry.
        alpha: Ridge regularisation strength of the candidate.
        tolerance: Promote when the candidate's rmse is at most the serving model's times
            (1 + tolerance).
        traffic_steps: Traffic shares for the new prod deployment, ending at 100.
    """
    dev = {"subscription_id": dev_subscription_id, "resource_group": dev_resource_group,
           "workspace_name": dev_workspace_name}
    prod = {"subscription_id": prod_subscription_id, "resource_group": prod_resource_group,
            "workspace_name": prod_workspace_name}
    cleanup = use_azure_credentials(
        recover_rollout(endpoint_name=endpoint_name,
                        pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, **prod),
        secret_name=PROD_SECRET,
    )
    # Train, register and evaluate before the exit handler: nothing there touches prod's
    # deployments. (kfp.local 2.17 resolves a dsl.If on a task output only when the output comes
    # from outside the If's enclosing group.)
    train = train_diabetes_model(model_format="custom", alpha=alpha,
                                 scoring_requirements=pins.EXAMPLE_SCORING_PACKAGES)
    registered = use_azure_credentials(
        register_model(model=train.outputs["model"], model_name=model_name,
                       model_type=train.outputs["model_type"],
                       pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                       pipeline_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER, **dev),
        secret_name=DEV_SECRET,
    )
    rows = held_out_rows()
    gate = use_azure_credentials(
        evaluate_against_serving(endpoint_name=endpoint_name, candidate=train.outputs["model"],
                                 rows=rows.outputs["rows"], tolerance=tolerance, **prod),
        secret_name=PROD_SECRET,
    )
    with dsl.ExitHandler(cleanup, name="promote-with-cleanup"):
        with dsl.If(gate.outputs["decision"] == "promote", name="candidate-is-better"):
            promoted = use_azure_credentials(
                promote_model(registered_model=registered.outputs["registered_model"],
                              registry_name=registry_name,
                              pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                              pipeline_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER, **dev),
                secret_name=DEV_SECRET,
            )
            use_azure_credentials(
                safe_rollout(registered_model=promoted.outputs["promoted_model"],
                             endpoint_name=endpoint_name, deployment_name=new_deployment_name,
                             code=train.outputs["code"], scoring_script="score.py",
                             conda_file="conda.yaml", payload_file=train.outputs["smoke_request"],
                             traffic_steps=traffic_steps,
                             pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                             pipeline_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER, **prod),
                secret_name=PROD_SECRET,
            )


PIPELINE = promote_to_production
