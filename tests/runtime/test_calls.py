"""Calling Azure: waiting with SIGTERM and undo after a failure (runtime/calls.py)."""

import json
import signal
import subprocess
import sys

import pytest

from azml_components.runtime.calls import azml_enum_text, azml_undo_and_raise, azml_wait

# A process of its own waits on a three-second operation under the SIGTERM disposition given in
# argv[1]; the operation says "started" once the wait (and its handler) is in place. The test
# signals that process only, never pytest.
WAITER = r"""
import json, signal, sys, time
from azml_components.runtime.calls import azml_wait

def callers_handler(signum, frame):
    pass

disposition = {"ignore": signal.SIG_IGN, "handler": callers_handler}[sys.argv[1]]
signal.signal(signal.SIGTERM, disposition)

def operation():
    print("started", flush=True)
    time.sleep(3)
    return "done"

report = {}
try:
    report["value"] = azml_wait("a slow operation", operation, 30)
except BaseException as error:
    report["error"] = f"{type(error).__name__}: {error}"
report["disposition_kept"] = signal.getsignal(signal.SIGTERM) is disposition
print(json.dumps(report), flush=True)
"""


def _wait_while_signalled(disposition: str) -> dict:
    child = subprocess.Popen([sys.executable, "-c", WAITER, disposition], text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == "started"
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    return json.loads(out)


def test_sigterm_interrupts_a_wait_and_the_callers_handler_comes_back():
    assert _wait_while_signalled("handler") == {
        "error": "InterruptedError: a slow operation: cancelled by SIGTERM while waiting",
        "disposition_kept": True,
    }


def test_an_ignored_sigterm_stays_ignored_during_a_wait():
    assert _wait_while_signalled("ignore") == {"value": "done", "disposition_kept": True}


def test_a_wait_returns_the_value_or_raises_the_translated_error():
    from azure.core.exceptions import ResourceNotFoundError

    assert azml_wait("quick", lambda: 42, 5) == 42

    def missing():
        raise ResourceNotFoundError("no such endpoint")

    with pytest.raises(RuntimeError, match="^reading x failed: ResourceNotFoundError: no such"):
        azml_wait("reading x", missing, 5)


def test_a_wait_past_its_deadline_says_what_and_how_long():
    import time

    with pytest.raises(TimeoutError, match=r"^slow thing: not finished after 1 s; raise "
                                           r"timeout_seconds"):
        azml_wait("slow thing", lambda: time.sleep(3), 1, poll_seconds=0.1)


def _fail(message):
    raise RuntimeError(message)


@pytest.mark.parametrize(("error", "raised"), [
    (InterruptedError("cancelled"), InterruptedError),
    (TimeoutError("too slow"), TimeoutError),
    (KeyError("x"), RuntimeError),
])
def test_undo_runs_every_step_reports_each_and_keeps_an_interrupt(error, raised):
    done = []
    undo = [("putting traffic back", lambda: done.append("traffic")),
            ("deleting the deployment", lambda: _fail("HTTP 500")),
            ("deleting the endpoint", lambda: done.append("endpoint"))]
    with pytest.raises(raised) as caught:
        azml_undo_and_raise(error, [f"deploy failed: {error}", "Traffic was not changed."],
                            undo, 5)
    assert done == ["traffic", "endpoint"]  # a failing step does not stop the next one
    assert caught.value.__cause__ is error
    assert str(caught.value).splitlines() == [
        f"deploy failed: {error}",
        "Traffic was not changed.",
        "putting traffic back: done",
        "deleting the deployment: FAILED (HTTP 500)",
        "deleting the endpoint: done",
        # What failed is left for the next run, and the message says so.
        "What the undo could not finish (it may take 5 s in all) is left: the next run on this "
        "endpoint finishes or undoes it, or delete it in Azure ML studio.",
    ]


def test_an_undo_that_finished_adds_no_leftover_line():
    with pytest.raises(RuntimeError) as caught:
        azml_undo_and_raise(KeyError("x"), ["deploy failed"], [("undo", lambda: None)], 5)
    assert str(caught.value).splitlines() == ["deploy failed", "undo: done"]


def test_enum_text_is_the_sdks_enum_value_and_leaves_strings_alone():
    # What the SDK hands out for states, statuses and datastore types: str enums, whose str()
    # is "ClassName.MEMBER"; the comparisons in the runtime need the value.
    from azure.ai.ml._restclient.arm_ml_service.models import (
        DatastoreType,
        DeploymentProvisioningState,
        JobStatus,
    )

    assert str(JobStatus.COMPLETED) == "JobStatus.COMPLETED"  # why the helper exists
    assert azml_enum_text(DeploymentProvisioningState.CREATING) == "Creating"
    assert azml_enum_text(JobStatus.COMPLETED) == "Completed"
    assert azml_enum_text(DatastoreType.AZURE_BLOB) == "AzureBlob"
    assert azml_enum_text("Succeeded") == "Succeeded"


def test_a_404_that_does_not_name_the_workspace_is_checked_by_reading_it(standin):
    # Whatever Azure ML answers for a model under a missing workspace, the run's client reads
    # the workspace itself (ARM answers that read for a tracked resource): its 404 names
    # workspace_name. With a workspace that exists, the 404 is about the thing read, and the
    # workspace is read once per client.
    from azure.ai.ml import MLClient
    from azure.core.exceptions import ResourceNotFoundError

    from azml_components.runtime import azml_credential
    from azml_components.runtime.calls import azml_get_or_none
    from tests.helpers import ml_client, workspace

    def vague():
        raise ResourceNotFoundError("(UserError) Not found.")

    ws = workspace()
    missing = MLClient(azml_credential(), ws["subscription_id"], ws["resource_group"],
                       "no-such-workspace")
    with pytest.raises(ValueError, match="^workspace_name: workspace 'no-such-workspace' was "
                                         "not found in resource group"):
        azml_get_or_none("reading model m:1", vague, client=missing)
    client = ml_client()
    standin.clear_requests()
    assert azml_get_or_none("reading model m:1", vague, client=client) is None
    assert azml_get_or_none("reading model m:2", vague, client=client) is None
    reads = [r for r in standin.requests()
             if r["path"].lower().endswith(f"/workspaces/{ws['workspace_name']}".lower())]
    assert [r["status"] for r in reads] == [200]
    # Without the client, a 404 that does not name the workspace is the thing read's.
    assert azml_get_or_none("reading model m:3", vague) is None
