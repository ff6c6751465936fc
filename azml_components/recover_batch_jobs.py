"""The recover_batch_jobs component: cancel the batch jobs a killed run left running (exit task)."""

from typing import NamedTuple

from kfp import dsl

from azml_components._component import azure_component
from azml_components.runtime.batch_jobs import azml_recover_batch_jobs


@azure_component
def recover_batch_jobs(
    endpoint_name: str,
    resource_group: str,
    workspace_name: str,
    pipeline_run_id: str = dsl.PIPELINE_JOB_ID_PLACEHOLDER,
    subscription_id: str = "",
    timeout_seconds: int = 600,
) -> NamedTuple("Outputs", [("cancelled", list)]):
    """Cancel the batch jobs of this run still running on an endpoint: a clean-up exit task.

    ``score_batch`` names each job it submits after its KFP run (and carries the run id in the
    job's ``azml-kfp-run`` property). If its pod was killed (a cancelled run on a KFP cluster
    ends the pod within about a second, before any clean-up in the component can run; a node
    can fail), the Azure job keeps running and scoring for nobody. This component lists the
    endpoint's jobs and cancels those of run ``pipeline_run_id`` that have not ended. Jobs of
    other runs and jobs that ended are left alone; after a successful run it cancels nothing,
    and running it twice is safe. A missing endpoint (never created, or removed after a failed
    deployment) has nothing to cancel. Use it as the exit task of ``dsl.ExitHandler`` around
    the scoring.

    Args:
        endpoint_name: Batch endpoint the jobs were submitted to.
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        pipeline_run_id: KFP run whose jobs to cancel (pass dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            as score_batch gets it; KFP fills it in only as a task argument). Left unfilled,
            nothing is known to be this run's and nothing is cancelled.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        timeout_seconds: How long each cancellation may take.

    Returns:
        cancelled: Names of the jobs cancelled (empty when nothing was running).

    """
    from collections import namedtuple

    result = azml_recover_batch_jobs(
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace_name=workspace_name,
        endpoint_name=endpoint_name,
        pipeline_run_id=pipeline_run_id,
        timeout_seconds=timeout_seconds,
    )
    outputs = namedtuple("Outputs", ["cancelled"])
    return outputs(result["cancelled"])
