"""The recover_rollout component: undo a rollout its process left unfinished (exit task)."""

from typing import NamedTuple

from kfp import dsl

from azml_components._component import azure_component
from azml_components.runtime.rollout_state import azml_recover_endpoint_rollout


@azure_component
def recover_rollout(
    endpoint_name: str,
    resource_group: str,
    workspace_name: str,
    pipeline_run_id: str = dsl.PIPELINE_JOB_ID_PLACEHOLDER,
    force: bool = False,
    subscription_id: str = "",
    timeout_seconds: int = 1800,
) -> NamedTuple("Outputs", [("undone", bool), ("actions", list)]):
    """Undo a safe_rollout that did not finish: the clean-up task of a rollout pipeline.

    ``safe_rollout`` records itself on the endpoint (tags ``azml-rollout-*``) before changing
    anything and removes the record in its last write. If its pod was killed (a cancelled run
    on a KFP cluster ends the pod within about a second, before any clean-up in the component
    can run; a node can fail), the record stays. This component reads it and, when the rollout
    belongs to this run (``pipeline_run_id``), has expired, or ``force`` is set: restores the
    recorded live and mirror traffic exactly (for the deployments that still exist), deletes
    the half-made deployment, deletes the endpoint if the rollout created it and nothing else
    is on it, then removes the record. A live rollout of another run is left alone (and named
    in the log). With no record, or after a successful rollout, it does nothing; running it
    twice is safe. Use it as the exit task of ``dsl.ExitHandler`` around the rollout.

    Args:
        endpoint_name: Online endpoint the rollout went to.
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        pipeline_run_id: KFP run whose rollout to undo (pass dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            as safe_rollout gets it); any rollout of that run is undone at once.
        force: Undo the recorded rollout whoever owns it. Only once you know its run has
            stopped: undoing a live rollout makes it fail.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        timeout_seconds: How long each change (traffic, deletion) may take.

    Returns:
        undone: True when an unfinished rollout was undone, False when there was nothing to
            undo (or it belongs to another run that is still alive).
        actions: What was done, one line each (empty when nothing).

    """
    from collections import namedtuple

    result = azml_recover_endpoint_rollout(
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace_name=workspace_name,
        endpoint_name=endpoint_name,
        pipeline_run_id=pipeline_run_id,
        force=force,
        timeout_seconds=timeout_seconds,
    )
    outputs = namedtuple("Outputs", ["undone", "actions"])
    return outputs(result["undone"], result["actions"])
