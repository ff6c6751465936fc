"""``dsl.If`` on a task's named output, under kfp.local.

The KFP backend evaluates ``dsl.If(task.outputs["drift_detected"] == True)`` from the task's
output parameter (the compiled condition reads ``pipelinechannel--TASK-OUTPUT``, bound as a
``taskOutputParameter``). kfp.local 2.17.3 does not: its condition evaluator
(``kfp/local/orchestrator/enhanced_dag_orchestrator.py``, ``ConditionEvaluator.
_resolve_pipeline_channel``) reads a task output only from a channel named ``TASK-Output`` or
``TASK--KEY``, so a named output such as ``check-drift-drift_detected`` is not found, the
condition counts as false and the branch never runs. Inside ``named_output_conditions()`` a
channel is first tried as ``TASK-KEY`` at each hyphen, against the task outputs the run has,
then resolved as kfp.local does. For the kfp versions listed in ``TESTED_KFP_VERSIONS`` only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["TESTED_KFP_VERSIONS", "named_output_conditions"]

#: kfp versions whose kfp.local condition evaluator this module was checked against.
TESTED_KFP_VERSIONS = ("2.17.3",)


def _task_output(channel: str, io_store):
    # "pipelinechannel--check-drift-drift_detected" -> task "check-drift", key "drift_detected".
    name = channel.replace("pipelinechannel--", "")
    for index, char in enumerate(name):
        if char != "-":
            continue
        try:
            return io_store.get_task_output(name[:index], name[index + 1:])
        except (KeyError, ValueError):
            continue
    return None


@contextlib.contextmanager
def named_output_conditions() -> Iterator[None]:
    """Let kfp.local evaluate ``dsl.If`` on named task outputs, as the KFP backend does."""
    import kfp
    from kfp.local.orchestrator import enhanced_dag_orchestrator as orchestrator

    if kfp.__version__ not in TESTED_KFP_VERSIONS:
        raise RuntimeError(f"kfp {kfp.__version__}: check whether kfp.local still needs "
                           "named_output_conditions (tested with "
                           f"{', '.join(TESTED_KFP_VERSIONS)})")
    evaluator = orchestrator.ConditionEvaluator
    original = evaluator.__dict__["_resolve_pipeline_channel"]

    def resolve(channel_ref, io_store):
        # A task's output first (kfp.local would log a warning for it), then kfp.local's way.
        value = _task_output(channel_ref, io_store)
        return original.__func__(channel_ref, io_store) if value is None else value

    evaluator._resolve_pipeline_channel = staticmethod(resolve)
    try:
        yield
    finally:
        evaluator._resolve_pipeline_channel = original
