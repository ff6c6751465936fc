"""Command jobs through the real SDK (jobs.create_or_update(command(...)), stream, get,
begin_cancel): submission rules, real execution, outputs, failure, cancel (command_jobs.py,
command_runs.py).

The job's environment is tests.helpers.CONDA_YAML on Azure ML's base image (conda + image, the
SDK registers it anonymously), the same package set as the scoring tests', so it comes from the
environment cache.
"""

from __future__ import annotations

import io
import os
import time
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from azml_local.resources.compute_clusters import COMPUTE_NAME
from azure.ai.ml import Input, MLClient, Output, command
from azure.ai.ml._artifacts._artifact_utilities import download_artifact_from_aml_uri
from azure.ai.ml.entities import Environment
from azure.core.exceptions import HttpResponseError

from tests.helpers import CONDA_YAML, unique

pytestmark = pytest.mark.timeout(900)  # a cold cache builds the environment

IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
MAIN_PY = '''
import argparse, os, subprocess, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--data")
parser.add_argument("--out")
parser.add_argument("--alpha", default="none")
args = parser.parse_args()
print("run", os.environ["AZUREML_RUN_ID"], "rank", os.environ.get("RANK", "-"),
      "alpha", args.alpha, "input", os.environ.get("AZURE_ML_INPUT_data") == args.data)
print("data:", open(args.data).read().strip())
os.makedirs(args.out, exist_ok=True)
with open(os.path.join(args.out, "result.txt"), "w") as handle:
    handle.write("trained on " + open(args.data).read().strip())
if os.environ.get("SLEEP"):
    child = subprocess.Popen(["sleep", os.environ["SLEEP"]])
    with open(os.environ["PID_FILE"], "w") as handle:
        handle.write(f"{os.getpid()} {child.pid}")
    time.sleep(float(os.environ["SLEEP"]))
time.sleep(float(os.environ.get("LINGER", "0")))
if os.environ.get("EXIT"):
    print("something went wrong in training", file=sys.stderr)
    sys.exit(int(os.environ["EXIT"]))
'''
COMMAND = "python main.py --data ${{inputs.data}} --out ${{outputs.model}} " \
          "$[[--alpha ${{inputs.alpha}}]]"


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("command")
    (root / "src").mkdir()
    (root / "src" / "main.py").write_text(MAIN_PY)
    (root / "data.csv").write_text("1,2,3\n")
    return {"code": root / "src", "data": root / "data.csv"}


def _job(sources: dict[str, Path], **changes):
    settings = dict(
        code=str(sources["code"]), command=COMMAND,
        inputs={"data": Input(type="uri_file", path=str(sources["data"]))},
        outputs={"model": Output(type="uri_folder")},
        environment=Environment(image=IMAGE, conda_file=_conda(sources)),
        compute=COMPUTE_NAME, name=unique("cmd"), experiment_name="command-tests")
    settings.update(changes)
    return command(**settings)


def _conda(sources: dict[str, Path]) -> str:
    path = sources["code"].parent / "conda.yaml"
    path.write_text(CONDA_YAML)
    return str(path)


def _wait(ml_client: MLClient, name: str, statuses: tuple[str, ...], timeout: float = 600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ml_client.jobs.get(name)
        if job.status in statuses:
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {name} never reached {statuses}")


def test_a_job_runs_streams_and_uploads_its_output(ml_client: MLClient, sources: dict,
                                                   tmp_path: Path) -> None:
    # The SDK's stream prints a log only while the job is in progress when it starts (a job
    # already finished gets just the summary), so the job lingers a little.
    job = ml_client.jobs.create_or_update(_job(sources, environment_variables={"LINGER": "3"}))
    assert job.status == "NotStarted"
    # Job names are unique in the workspace, and a job cannot be changed.
    with pytest.raises(HttpResponseError, match="already exists"):
        ml_client.jobs.create_or_update(_job(sources, name=job.name))
    printed = io.StringIO()
    with redirect_stdout(printed):
        ml_client.jobs.stream(job.name)
    assert f"run {job.name} rank - alpha none input True" in printed.getvalue()
    assert "data: 1,2,3" in printed.getvalue()
    done = ml_client.jobs.get(job.name)
    assert done.status == "Completed"
    # The output lands on the default datastore under azureml/<job>/<output>/.
    uri = done.outputs["model"].path
    assert uri == f"azureml://datastores/workspaceblobstore/paths/azureml/{job.name}/model/"
    download_artifact_from_aml_uri(uri, str(tmp_path), ml_client.datastores)
    assert (tmp_path / "result.txt").read_text() == "trained on 1,2,3"


def test_cancel_kills_the_process_tree(ml_client: MLClient, sources: dict,
                                       tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    job = ml_client.jobs.create_or_update(_job(sources, environment_variables={
        "SLEEP": "300", "PID_FILE": str(pid_file)}))
    _wait(ml_client, job.name, ("Running",))
    deadline = time.monotonic() + 120
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    pids = [int(p) for p in pid_file.read_text().split()]
    ml_client.jobs.begin_cancel(job.name).result()
    assert _wait(ml_client, job.name, ("Canceled", "Completed", "Failed")).status == "Canceled"
    for pid in pids:  # the user process and its child are gone (or reaped zombies)
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def test_pytorch_distribution_runs_every_rank(ml_client: MLClient, sources: dict) -> None:
    job = ml_client.jobs.create_or_update(_job(
        sources, instance_count=1,
        distribution={"type": "pytorch", "process_count_per_instance": 2},
        environment_variables={"LINGER": "3"}))
    printed = io.StringIO()
    with redirect_stdout(printed):
        ml_client.jobs.stream(job.name)
    # The SDK streams the first process's log (user_logs/std_log_process_0.txt).
    assert "rank 0 alpha" in printed.getvalue()
    assert ml_client.jobs.get(job.name).status == "Completed"


@pytest.mark.parametrize(("changes", "message"), [
    ({"compute": "no-such-cluster"}, "Compute 'no-such-cluster' was not found"),
    ({"compute": None, "instance_type": "Standard_Imaginary_v9"},
     "Serverless compute does not offer the instance type"),
    ({"compute": "aks-cluster", "instance_type": "gpu-huge"},
     "Instance type 'gpu-huge' is not defined on compute 'aks-cluster'"),
    ({"instance_count": 99}, "can scale to"),
    ({"distribution": {"type": "tensorflow", "worker_count": 2}}, "PyTorch and Mpi"),
])
def test_submission_rules(ml_client: MLClient, sources: dict, changes: dict,
                          message: str) -> None:
    job = _job(sources)
    instance_type = changes.pop("instance_type", None)
    count = changes.pop("instance_count", None)
    for key, value in changes.items():
        setattr(job, key, value)
    if instance_type or count:
        job.resources = {"instance_type": instance_type, "instance_count": count or 1}
    with pytest.raises(HttpResponseError, match=message):
        ml_client.jobs.create_or_update(job)
