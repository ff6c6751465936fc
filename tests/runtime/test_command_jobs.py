"""run_command_job's runtime against local mode: submit and outputs, a dataset uploaded once,
Azure's error with the log tail, SIGTERM cancels the Azure job, a retry after SIGKILL takes the
job over (one job, not two), the exit task cancels what a killed run left.

The jobs' environment is tests.helpers.CONDA_YAML (the scoring tests' set: cached).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from azml_components.runtime.calls import azml_enum_text
from azml_components.runtime.command_jobs import (
    azml_artifact_job_input,
    azml_recover_command_jobs,
    azml_run_command_job,
)
from tests import child_call, crash
from tests.helpers import CONDA_YAML, ml_client, unique, workspace

pytestmark = pytest.mark.timeout(900)

TRAIN_PY = '''
import os, sys, time
data, out = sys.argv[1], sys.argv[2]
print("training on", open(data).read().strip(), "in", os.environ["AZUREML_RUN_ID"])
gate = os.environ.get("GATE")
while gate and not os.path.exists(gate):
    time.sleep(0.1)
if os.environ.get("EXIT"):
    print("loss is NaN: giving up", file=sys.stderr)
    sys.exit(int(os.environ["EXIT"]))
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "weights.txt"), "w").write("w=" + open(data).read().strip())
'''
COMMAND = "python train.py ${{inputs.data}} ${{outputs.model}}"


@pytest.fixture(scope="module")
def client(standin):
    return ml_client()


@pytest.fixture()
def task(tmp_path: Path, standin) -> dict:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN_PY)
    data = tmp_path / "data.csv"
    data.write_text(f"{unique('rows')}\n")  # unique content: its own upload
    return {**workspace(), "command": COMMAND, "code_path": str(code),
            "conda_file": CONDA_YAML, "compute": "cpu-cluster",
            "inputs": {"data": {"type": "uri_file", "path": str(data)}},
            "outputs": {"model": "uri_folder"}, "model_output": "model",
            "experiment_name": "runtime-tests", "timeout_seconds": 600,
            "pipeline_run_id": unique("run"), "pipeline_task_name": "train"}


def _status(client, name: str) -> str:
    return azml_enum_text(client.jobs.get(name).status)


def _until(condition, what: str, child=None, timeout: float = 300) -> None:
    # Acts on observed state; the deadline only ends a test that would otherwise hang.
    deadline = time.monotonic() + timeout
    while not condition():
        if child is not None:
            assert child.poll() is None, f"the child ended before {what}: " \
                                         f"{child_call.outcome(child)}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _job_of_run(client, run_id: str) -> list:
    return [j.name for j in client.jobs.list(tag="azml-kfp-run")
            if (j.tags or {}).get("azml-kfp-run") == run_id]


def test_a_job_runs_and_its_output_is_found_and_downloaded(client, task, tmp_path,
                                                           standin) -> None:
    standin.clear_requests()
    result = azml_run_command_job(**task, download_to=str(tmp_path / "model"))
    assert result["status"] == "Completed" and not result["reused"]
    path = result["outputs"]["model"]["azureml_path"]
    assert path == (f"azureml://datastores/workspaceblobstore/paths/azureml/{result['name']}"
                    "/model/")
    assert (tmp_path / "model" / "weights.txt").read_text().startswith("w=rows-")
    job = client.jobs.get(result["name"])
    assert job.tags["azml-kfp-run"] == task["pipeline_run_id"]
    assert job.tags["azml-kfp-task"] == "train"
    # The next job reads that output by reference (the artifact's metadata): no download, no
    # upload; the job reads the file where the first job wrote it.
    reference = azml_artifact_job_input("", {"azureml_path": path + "weights.txt",
                                             "type": "uri_file"})
    standin.clear_requests()
    second = azml_run_command_job(**{**task, "inputs": {"data": reference},
                                     "pipeline_task_name": "second"},
                                  download_to=str(tmp_path / "second"))
    assert (tmp_path / "second" / "weights.txt").read_text().startswith("w=w=rows-")
    assert client.jobs.get(second["name"]).inputs["data"].path == path + "weights.txt"
    assert not [r for r in standin.requests() if "LocalUpload" in r["path"]
                and "weights" in r["path"]]
    # Run again (a re-run of the task): the job is taken, nothing is uploaded or submitted.
    standin.clear_requests()
    again = azml_run_command_job(**task)
    assert again["name"] == result["name"] and again["reused"]
    writes = [r for r in standin.requests() if r["method"] == "PUT"]
    assert writes == [], writes


def test_a_failed_job_fails_with_azures_error_and_the_log_tail(task) -> None:
    with pytest.raises(RuntimeError) as raised:
        azml_run_command_job(**task, environment_variables={"EXIT": "2"})
    message = str(raised.value)
    assert "ended Failed" in message
    assert "User process 'python' exited with status code 2" in message
    assert "loss is NaN: giving up" in message  # the log tail


def test_sigterm_cancels_the_azure_job(client, task, tmp_path) -> None:
    child = child_call.start("azml_components.runtime.command_jobs:azml_run_command_job",
                             **task, environment_variables={"GATE": str(tmp_path / "gate")})
    _until(lambda: any(_status(client, n) == "Running"
                       for n in _job_of_run(client, task["pipeline_run_id"])),
           "the job runs", child)
    (name,) = _job_of_run(client, task["pipeline_run_id"])
    child.send_signal(signal.SIGTERM)
    report = child_call.outcome(child)
    assert report["error"] == "InterruptedError", report
    assert "cancelling command job" in report["message"]
    assert _status(client, name) == "Canceled"


def test_a_retry_after_sigkill_takes_the_job_over(client, task, tmp_path, standin) -> None:
    gate = tmp_path / "gate"
    arguments = {**task, "environment_variables": {"GATE": str(gate)}}
    crash.kill_command_job_after_submission(standin, arguments, tmp_path / "killed.log")
    (name,) = _job_of_run(client, task["pipeline_run_id"])
    submitted = crash.command_job_submissions(standin)
    retry = child_call.start("azml_components.runtime.command_jobs:azml_run_command_job",
                             **arguments)
    # The retry streams the killed attempt's job (its log says so), or wrongly submits one.
    _until(lambda: any(r["path"].endswith(f"/runs/{name}/details") for r in standin.requests())
           or crash.command_job_submissions(standin) > submitted, "the retry waits", retry)
    gate.write_text("open")
    report = child_call.outcome(retry)
    assert report.get("result", {}).get("name") == name, report
    assert report["result"]["reused"] and report["result"]["status"] == "Completed"
    assert crash.command_job_submissions(standin) == submitted
    assert _job_of_run(client, task["pipeline_run_id"]) == [name]


def test_the_exit_task_cancels_what_a_killed_run_left(client, task, tmp_path,
                                                      standin) -> None:
    arguments = {**task, "environment_variables": {"GATE": str(tmp_path / "gate")}}
    crash.kill_command_job_after_submission(standin, arguments, tmp_path / "killed.log")
    (name,) = _job_of_run(client, task["pipeline_run_id"])
    assert azml_recover_command_jobs(**workspace(), pipeline_run_id=unique("run")) == {
        "cancelled": []}
    recovered = azml_recover_command_jobs(**workspace(),
                                          pipeline_run_id=task["pipeline_run_id"])
    assert recovered == {"cancelled": [name]}
    assert _status(client, name) == "Canceled"
    assert azml_recover_command_jobs(**workspace(), pipeline_run_id=task["pipeline_run_id"]) \
        == {"cancelled": []}
