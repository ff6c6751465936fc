"""The recover_command_jobs component: cancel the command jobs a killed run left (exit task)."""

from typing import NamedTuple

from kfp import dsl

from azml_components._component import azure_component
from azml_components.runtime.command_jobs import azml_recover_command_jobs


@azure_component
def recover_command_jobs(
    resource_group: str,
    workspace_name: str,
    pipeline_run_id: str = dsl.PIPELINE_JOB_ID_PLACEHOLDER,
    subscription_id: str = "",
    timeout_seconds: int = 600,
) -> NamedTuple("Outputs", [("cancelled", list)]):
    """Cancel the command jobs of this run that are still running: a clean-up exit task.

    ``run_command_job`` tags each job it submits with its KFP run (``azml-kfp-run``). If its
    pod was killed (a cancelled run on a KFP cluster ends the pod within about a second, before
    any clean-up in the component can run; a node can fail), the Azure job keeps running, and
    paying for compute, for nobody. This component lists the workspace's jobs with that tag and
    cancels those of run ``pipeline_run_id`` that have not ended. Other runs' jobs and jobs
    that ended are left alone; after a successful run it cancels nothing, and running it twice
    is safe. Use it as the exit task of ``dsl.ExitHandler`` around the training.

    Args:
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        pipeline_run_id: KFP run whose jobs to cancel (pass dsl.PIPELINE_JOB_ID_PLACEHOLDER;
            KFP fills it in only as a task argument). Left unfilled, nothing is known to be
            this run's and nothing is cancelled.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        timeout_seconds: How long each cancellation may take.

    Returns:
        cancelled: Names of the jobs cancelled (empty when nothing was running).

    """
    from collections import namedtuple

    result = azml_recover_command_jobs(
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace_name=workspace_name,
        pipeline_run_id=pipeline_run_id,
        timeout_seconds=timeout_seconds,
    )
    return namedtuple("Outputs", ["cancelled"])(result["cancelled"])
