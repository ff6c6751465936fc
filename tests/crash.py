"""Crash a rollout for real: run it in a child process the test starts, and SIGKILL that
process (nothing else) once it is mid-shift.

SIGKILL, not SIGTERM: on a KFP cluster a cancelled run's pod ends within about a second and a
node can die, so no clean-up code in the rollout runs. "Mid-shift" is read from the stand-in:
once the new deployment's PUT is logged, the endpoint's next long-running operation (the first
traffic or mirror move) is held in progress (a Hold fault: until the test releases it, however
long the machine takes); when that PUT arrives, the rollout process is waiting on Azure with the
traffic already moved, and it is killed there. Azure then finishes the operation on its own:
`slow_seconds` after the kill, the held operation is released.

A batch job is killed the same way: `kill_score_batch_after_submission` SIGKILLs score_batch
once the stand-in has logged the job's submission (the job exists in Azure from that POST on),
so the job runs on with nobody waiting for it.
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """
import json, sys
from azml_components.runtime.rollout import azml_safe_rollout
azml_safe_rollout(**json.loads(sys.argv[1]))
"""
SCORE_BATCH_SCRIPT = """
import json, sys
from azml_components.runtime.batch import azml_score_batch
azml_score_batch(**json.loads(sys.argv[1]))
"""
COMMAND_JOB_SCRIPT = """
import json, sys
from azml_components.runtime.command_jobs import azml_run_command_job
azml_run_command_job(**json.loads(sys.argv[1]))
"""
DEPLOY_SCRIPT = """
import json, sys
from azml_components.runtime.deploy import azml_deploy_model
azml_deploy_model(**json.loads(sys.argv[1]))
"""


def _endpoint_puts(standin, endpoint: str, suffix: str = "") -> int:
    path = f"/onlineendpoints/{endpoint}{suffix}".lower()
    return sum(1 for r in standin.requests()
               if r["method"] == "PUT" and r["path"].lower().endswith(path))


def batch_job_submissions(standin, endpoint: str) -> int:
    """Batch jobs submitted to `endpoint` (accepted POSTs to its jobs) in the request log."""
    path = f"/batchendpoints/{endpoint}/jobs".lower()
    return sum(1 for r in standin.requests()
               if r["method"] == "POST" and r["path"].lower() == path and r["status"] < 400)


def _wait(condition, what: str, process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the child ended (exit {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def kill_rollout_mid_shift(standin, arguments: dict, log: Path, slow_seconds: float = 8,
                           timeout: float = 300) -> None:
    """Start azml_safe_rollout(**arguments) in a child process and SIGKILL it mid-shift."""
    _kill_rollout(standin, arguments, log, slow_seconds, timeout, during_deployment=False)


def kill_rollout_while_deploying(standin, arguments: dict, log: Path, slow_seconds: float = 8,
                                 timeout: float = 300) -> None:
    """The same, but while the new deployment is still provisioning (no traffic moved yet)."""
    _kill_rollout(standin, arguments, log, slow_seconds, timeout, during_deployment=True)


def kill_deploy_while_deploying(standin, arguments: dict, log: Path, slow_seconds: float = 8,
                                timeout: float = 300) -> None:
    """Start azml_deploy_model(**arguments) in a child process and SIGKILL it while its
    deployment is still provisioning: Azure keeps the operation running after the run is gone."""
    _kill_rollout(standin, arguments, log, slow_seconds, timeout, during_deployment=True,
                  script=DEPLOY_SCRIPT)


def _kill_rollout(standin, arguments: dict, log: Path, slow_seconds: float, timeout: float,
                  during_deployment: bool, script: str = SCRIPT) -> None:
    endpoint, deployment = arguments["endpoint_name"], arguments["deployment_name"]
    standin.clear_requests()
    if during_deployment:
        standin.lro_fault(path_regex=f"/onlineEndpoints/{endpoint}/deployments/{deployment}$",
                          outcome="Hold", count=1)
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-c", script, json.dumps(arguments)],
                                   stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        _wait(lambda: _endpoint_puts(standin, endpoint, f"/deployments/{deployment}"),
              f"PUT of deployment {deployment}", process, timeout)
        if not during_deployment:
            moves = _endpoint_puts(standin, endpoint)
            standin.lro_fault(path_regex=f"/onlineEndpoints/{endpoint}$", outcome="Hold",
                              count=1)
            _wait(lambda: _endpoint_puts(standin, endpoint) > moves, "the first traffic move",
                  process, timeout)
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        standin.release_lro_holds(after_seconds=slow_seconds)


def kill_score_batch_after_submission(standin, arguments: dict, log: Path,
                                      timeout: float = 300) -> None:
    """Start azml_score_batch(**arguments) in a child process and SIGKILL it once its batch job
    was submitted: the Azure job keeps running, as after a killed pod."""
    endpoint = arguments["endpoint_name"]
    before = batch_job_submissions(standin, endpoint)
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SCORE_BATCH_SCRIPT, json.dumps(arguments)],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        _wait(lambda: batch_job_submissions(standin, endpoint) > before,
              "the batch job's submission", process, timeout)
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def command_job_submissions(standin) -> int:
    """Command jobs accepted (PUT jobs/{name} answered below 400) in the request log."""
    return sum(1 for r in standin.requests()
               if r["method"] == "PUT" and "/jobs/" in r["path"].lower() and r["status"] < 400)


def kill_command_job_after_submission(standin, arguments: dict, log: Path,
                                      timeout: float = 300) -> None:
    """Start azml_run_command_job(**arguments) in a child process and SIGKILL it once its job
    was submitted: the Azure job keeps running, as after a killed pod."""
    before = command_job_submissions(standin)
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", COMMAND_JOB_SCRIPT, json.dumps(arguments)],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        _wait(lambda: command_job_submissions(standin) > before,
              "the command job's submission", process, timeout)
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
