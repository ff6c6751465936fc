"""Calling Azure: waiting with SIGTERM and undo after a failure (runtime/calls.py)."""

import os
import signal
import threading
import time

import pytest

from azml_components.runtime.calls import azml_undo_and_raise, azml_wait


def _wait_while_signalled(handler):
    # A one-second operation with SIGTERM arriving in the middle, under `handler`.
    previous = signal.signal(signal.SIGTERM, handler)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        return azml_wait("a slow operation", lambda: time.sleep(1.0) or "done", 30)
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_interrupts_a_wait():
    with pytest.raises(InterruptedError, match="a slow operation: cancelled by SIGTERM"):
        _wait_while_signalled(lambda signum, frame: None)


def test_an_ignored_sigterm_stays_ignored_during_a_wait():
    assert _wait_while_signalled(signal.SIG_IGN) == "done"


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
    ]
