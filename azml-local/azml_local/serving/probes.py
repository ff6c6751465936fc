"""A starting scoring process's readiness and liveness probes, as Azure (Kubernetes) runs them.

Both probe the inference server's health route, `GET /` ("Healthy" from the first booted worker:
azureml-inference-server-http 1.5 server/routes.py health_probe; the worker runs the scoring
script's init() before it serves). Each probe first fires initial_delay after the container
starts, then every period, each attempt given timeout; failure_threshold failures in a row give
up: a readiness probe marks the container unready, a liveness probe restarts it (and so again and
again with an init() that never finishes). Either way the deployment fails ResourceNotReady
("Troubleshoot online endpoint deployment and scoring", ERROR: ResourceNotReady: "Container
initialization is taking too long so that readiness or liveness probe fails beyond failure
threshold"), Azure's message naming the probe: "User container has crashed or terminated:
Liveness probe failed: HTTP probe failed with statuscode: 502" (Azure/mlops-v2 issue 120).

One shortcut: between its scheduled probes the server is also asked at once, so a deployment is
ready as soon as its server answers instead of at the next scheduled probe. Only the scheduled
probes count failures, so what fails on Azure fails here, and what succeeds, succeeds sooner.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from azml_local.serving.settings import Probe

_POLL = 0.25  # seconds between the unscheduled asks


class ProbeFailed(Exception):
    """A probe gave up; the message is Azure's (e.g. "Readiness probe failed: ...")."""


def ask(session: requests.Session, url: str, timeout: float) -> str | None:
    """None when the health route answers 200, else what the kubelet would report."""
    try:
        status = session.get(url, timeout=timeout).status_code
    except requests.Timeout:
        return (f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while '
                "awaiting headers)")
    except requests.ConnectionError:
        return f'Get "{url}": dial tcp: connect: connection refused'
    return None if status == 200 else f"HTTP probe failed with statuscode: {status}"


def wait_ready(
    probe: Callable[[float], str | None], alive: Callable[[], bool], readiness: Probe,
    liveness: Probe,
) -> bool:
    """Probe until the readiness probe succeeds (True) or the process exits (False).

    Raises ProbeFailed when a probe reaches its failure threshold first.
    """
    schedules = {"Readiness": readiness, "Liveness": liveness}
    started = time.monotonic()
    due_at = {name: started + p.initial_delay for name, p in schedules.items()}
    failures = dict.fromkeys(schedules, 0)
    successes = 0
    while alive():
        due = [name for name, at in due_at.items() if time.monotonic() >= at]
        problem = probe(min([schedules[n].timeout for n in due] or [readiness.timeout]))
        if problem is None:
            successes += 1
            if successes >= readiness.success_threshold:
                return True
            due_at["Readiness"] = time.monotonic() + readiness.period
            while alive() and time.monotonic() < due_at["Readiness"]:
                time.sleep(_POLL)
            continue
        successes = 0
        for name in due:
            failures[name] += 1
            if failures[name] >= schedules[name].failure_threshold:
                raise ProbeFailed(f"{name} probe failed: {problem}")
            due_at[name] += schedules[name].period
        time.sleep(_POLL)
    return False
