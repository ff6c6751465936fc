"""Running a command job for real: environment, code, inputs, the user process, outputs.

How Azure ML runs a command job, and where it is written down:
- Statuses: NotStarted, Queued, Preparing (image and data), Running, Finalizing (outputs are
  uploaded), then Completed, Failed or Canceled (azure-ai-ml 1.35 JobStatus and
  RunHistoryConstants; "Job status" in the CLI (v2) job reference).
- The environment is the one the job names (registered, curated, or an anonymous conda file +
  image the SDK registered first); here it is built by the same cache as scoring environments
  (serving/environments.py), so a second job on the same environment reuses the venv.
- The code snapshot (the Code asset the SDK uploaded) is the working directory; the command runs
  in a shell with the environment's interpreter first on PATH, once per process of the job
  (instance count x processes per instance for PyTorch and MPI).
- `${{inputs.x}}` becomes the input's mounted path (literal inputs: the value) and
  `${{outputs.y}}` the output's folder; $[[...]] parts whose input is missing are dropped
  ("CLI (v2) command job YAML schema", Expressions). Azure also sets AZURE_ML_INPUT_<name> and
  AZURE_ML_OUTPUT_<name> to those paths ("Access data in a job", learn.microsoft.com) and
  AZUREML_RUN_ID, AZUREML_ARM_SUBSCRIPTION, AZUREML_ARM_RESOURCEGROUP,
  AZUREML_ARM_WORKSPACE_NAME, AZUREML_ARM_PROJECT_NAME (the experiment) for the run (what the
  azureml-mlflow plugin and azureml-core's Run.get_context read).
- PyTorch distribution: MASTER_ADDR, MASTER_PORT, WORLD_SIZE, NODE_RANK, RANK, LOCAL_RANK,
  LOCAL_WORLD_SIZE; MPI: OMPI_COMM_WORLD_RANK/_SIZE/_LOCAL_RANK/_LOCAL_SIZE ("Distributed GPU
  training guide (SDK v2)", learn.microsoft.com, how-to-train-distributed-gpu).
- The process's stdout and stderr are user_logs/std_log.txt (one process) or
  user_logs/std_log_process_<rank>.txt; a non-zero exit fails the job with "Execution failed.
  User process '<program>' exited with status code <n>. Please check log file
  'user_logs/std_log.txt' for error details. Error: <the last line>" (as Azure words it).
- `limits.timeout` ends the job when the process runs longer.
"""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from azml_local.infra.lro import LroFailure
from azml_local.infra.state import PRIVATE
from azml_local.infra.web import ApiError
from azml_local.resources import batch_jobs
from azml_local.resources.assets import resolve_blob
from azml_local.resources.command_jobs import BINDING, OPTIONAL
from azml_local.resources.context import Context, duration_seconds

_ASSET = re.compile(r"^(?:azureml:)?(/subscriptions/.+/workspaces/[^/]+/(data|models)/[^/]+"
                    r"/versions/[^/]+)$", re.IGNORECASE)


def _note(ctx: Context, name: str, text: str) -> None:
    # Preparation notes: the system log beside the user's (not streamed, as in Azure).
    with open(batch_jobs.work_dir(ctx, name) / "execution-wrapper.txt", "a") as handle:
        handle.write(text.rstrip("\n") + "\n")


def execute(ctx: Context, rid: str) -> None:
    """The job's life after submission (a thread per job)."""
    body = ctx.store.get(rid)
    name = body["name"]
    work = batch_jobs.work_dir(ctx, name)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        batch_jobs.set_status(ctx, rid, status="Queued")
        batch_jobs.set_status(ctx, rid, status="Preparing")
        props = body["properties"]
        env_dir = _environment(ctx, name, props["environmentId"])
        code_dir = _code(ctx, props.get("codeId"), work / "code")
        paths = _inputs(ctx, props["inputs"], work / "inputs")
        outputs = _output_paths(props["outputs"], work / "outputs")
        env = _job_env(ctx, body, paths, outputs)  # creates the job's MLflow run
        if ctx.store.get(rid)["properties"]["status"] != "Preparing":
            return  # cancelled while preparing
        command = resolve_command(props["command"], paths, outputs)
        batch_jobs.set_status(ctx, rid, status="Running")
        if not _run(ctx, rid, command, env_dir, code_dir, env):
            return  # cancelled
        batch_jobs.set_status(ctx, rid, status="Finalizing")
        _upload_outputs(ctx, props["outputs"], outputs)
        batch_jobs.set_status(ctx, rid, status="Completed")
    except LroFailure as failure:
        _note(ctx, name, f"{failure.code}: {failure.message}")
        batch_jobs.set_status(ctx, rid, status="Failed",
                              error={"code": failure.code, "message": failure.message})
    except Exception as exc:  # a stand-in bug: the job fails with it, as a service would
        batch_jobs.log.exception("command job %s", name)
        batch_jobs.set_status(ctx, rid, status="Failed",
                              error={"code": "SystemError", "message": repr(exc)})
    finally:
        _finish_tracking(ctx, rid)


def _environment(ctx: Context, name: str, env_id: str) -> Path:
    from azml_local.serving import provision
    from azml_local.serving.environments import ProvisionError, from_conda_file

    conda_file, environment = provision._environment(ctx, env_id)
    try:
        environment = environment or from_conda_file(conda_file)
        _note(ctx, name, f"Building (or reusing) the environment {env_id}")
        return provision.serving(ctx).environments.get(environment)
    except ProvisionError as exc:
        _note(ctx, name, exc.logs)
        raise LroFailure("ImageBuildFailure", "Image build failed for the job's environment.\n"
                         + exc.logs[-2000:]) from exc


def _code(ctx: Context, code_id: str | None, dest: Path) -> Path:
    from azml_local.serving import provision

    dest.mkdir(parents=True)
    if code_id:
        code = provision._asset(ctx, code_id, "Code")
        container, path = resolve_blob(ctx, code["properties"]["codeUri"])
        ctx.azurite.download(container, path, dest)
    return dest


def _source_uri(ctx: Context, uri: str) -> str:
    # A data or model asset version (by ARM id) reads the files it references.
    match = _ASSET.match(uri)
    if not match:
        return uri
    asset = ctx.store.get(match.group(1))
    if asset is None:
        raise LroFailure("UserError", f"The input asset {match.group(1)} could not be found.")
    key = "dataUri" if match.group(2).lower() == "data" else "modelUri"
    return asset["properties"][key]


def _inputs(ctx: Context, inputs: dict[str, Any], dest: Path) -> dict[str, str]:
    """Each input's value in the command: a literal's value, else its local path."""
    values = {}
    for name, entry in inputs.items():
        kind = str(entry["jobInputType"]).lower()
        if kind == "literal":
            values[name] = str(entry["value"])
            continue
        uri = _source_uri(ctx, entry["uri"])
        if uri.lower().startswith(("http://", "https://")) and "/datastores/" not in uri \
                and ".blob.core." not in uri:
            raise LroFailure("UserError", f"Input '{name}': '{uri}' is a public URL; local "
                             "mode reads inputs from the workspace's datastores only.")
        try:
            container, path = resolve_blob(ctx, uri)
        except ApiError as exc:
            raise LroFailure("UserError", f"Input '{name}' cannot be read: {exc.message}") \
                from exc
        values[name] = _download(ctx, name, kind, uri, container, path, dest / name)
    return values


def _download(ctx: Context, name: str, kind: str, uri: str, container: str, path: str,
              dest: Path) -> str:
    blobs = ctx.azurite.list(container, path)
    if kind == "uri_file":
        if path not in blobs:
            raise LroFailure("UserError", f"Input '{name}' is a uri_file input, but there is "
                             f"no file at '{uri}'.")
        target = dest / Path(path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(ctx.azurite.read(container, path))
        return str(target)
    if not any(b.startswith(path.rstrip("/") + "/") for b in blobs):
        raise LroFailure("UserError", f"Input '{name}' is a {kind} input, but there is no "
                         f"folder of files at '{uri}'.")
    dest.mkdir(parents=True)
    ctx.azurite.download(container, path, dest)
    return str(dest)


def _output_paths(outputs: dict[str, Any], dest: Path) -> dict[str, str]:
    paths = {}
    for name, entry in outputs.items():
        folder = dest / name
        folder.mkdir(parents=True)
        if str(entry["jobOutputType"]).lower() == "uri_file":
            file_name = entry["uri"].rstrip("/").rsplit("/", 1)[-1]
            paths[name] = str(folder / (file_name if not entry["uri"].endswith("/") else name))
        else:
            paths[name] = str(folder)
    return paths


def resolve_command(command: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    """The command with its bindings replaced by quoted paths or values."""
    values = {"inputs": inputs, "outputs": outputs}

    def optional(match: re.Match[str]) -> str:
        bound = BINDING.findall(match.group(1))
        return match.group(1) if all(n in values[k] for k, n in bound) else ""

    command = OPTIONAL.sub(optional, command)
    return BINDING.sub(lambda m: shlex.quote(values[m.group(1)][m.group(2)]), command)


def _job_env(ctx: Context, body: dict[str, Any], inputs: dict[str, str],
             outputs: dict[str, str]) -> dict[str, str]:
    from azml_local.resources.context import RESOURCE_GROUP, WORKSPACE
    from azml_local.serving import installer

    props = body["properties"]
    env = {**installer.scoring_env(), "PYTHONUNBUFFERED": "1",
           "AZUREML_RUN_ID": body["name"], "AZUREML_ARM_SUBSCRIPTION":
           ctx.identity.subscription_id, "AZUREML_ARM_RESOURCEGROUP": RESOURCE_GROUP,
           "AZUREML_ARM_WORKSPACE_NAME": WORKSPACE,
           "AZUREML_ARM_PROJECT_NAME": props["experimentName"]}
    env.update({f"AZURE_ML_INPUT_{k}": v for k, v in inputs.items()})
    env.update({f"AZURE_ML_OUTPUT_{k}": v for k, v in outputs.items()})
    env.update(tracking_env(ctx, body))
    with ctx.store.lock:
        stored = ctx.store.get(body["id"])
        stored[PRIVATE]["tracked"] = True
        ctx.store.put(stored)
    env.update(props.get("environmentVariables") or {})
    return env


def tracking_env(ctx: Context, body: dict[str, Any]) -> dict[str, str]:
    """The job's MLflow run (id = the job's name, as on Azure) and the variables its process
    logs into it with (azml_local.tracking.job_environment: MLFLOW_TRACKING_URI and the rest,
    as Azure sets them in a job; azureml-mlflow in the job's environment reads them).
    """
    from azml_local.tracking import job_environment
    from azml_local.tracking.server import TrackingError

    props = body["properties"]
    try:
        return job_environment(ctx, body["name"], props["experimentName"],
                               props.get("displayName") or "")
    except TrackingError as exc:
        raise LroFailure("SystemError", f"The job's MLflow run could not be created: {exc}") \
            from exc


def _finish_tracking(ctx: Context, rid: str) -> None:
    # The run ends with the job's final status (Completed, Failed, Canceled); a job that ended
    # before its run was created has none to end.
    from azml_local.tracking import finish_run

    body = ctx.store.get(rid)
    status = body["properties"]["status"]
    if body[PRIVATE].get("tracked") and status in ("Completed", "Failed", "Canceled"):
        try:
            finish_run(ctx, body["name"], status)
        except Exception:  # the job's own outcome stands; the run stays as it was
            batch_jobs.log.exception("ending the MLflow run of job %s", body["name"])


def _ranks(props: dict[str, Any]) -> list[dict[str, str]]:
    """Per process of the job: its distribution variables."""
    nodes = int((props.get("resources") or {}).get("instanceCount") or 1)
    distribution = props.get("distribution") or {}
    kind = str(distribution.get("distributionType") or "").lower()
    per = int(distribution.get("processCountPerInstance") or 1) if kind else 1
    world = nodes * per
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    ranks = []
    for rank in range(world):
        local, node = rank % per, rank // per
        if kind == "pytorch":
            ranks.append({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port,
                          "WORLD_SIZE": str(world), "RANK": str(rank), "NODE_RANK": str(node),
                          "LOCAL_RANK": str(local), "LOCAL_WORLD_SIZE": str(per)})
        elif kind == "mpi":
            ranks.append({"OMPI_COMM_WORLD_RANK": str(rank), "OMPI_COMM_WORLD_SIZE": str(world),
                          "OMPI_COMM_WORLD_LOCAL_RANK": str(local),
                          "OMPI_COMM_WORLD_LOCAL_SIZE": str(per)})
        else:
            ranks.append({})
    return ranks


def _run(ctx: Context, rid: str, command: str, env_dir: Path, code_dir: Path,
         env: dict[str, str]) -> bool:
    """Run the command once per process; False when the job was cancelled meanwhile."""
    body = ctx.store.get(rid)
    props, work = body["properties"], batch_jobs.work_dir(ctx, body["name"])
    ranks = _ranks(props)
    logs = (["user_logs/std_log.txt"] if len(ranks) == 1
            else [f"user_logs/std_log_process_{rank}.txt" for rank in range(len(ranks))])
    with ctx.store.lock:
        stored = ctx.store.get(rid)
        stored[PRIVATE]["logs"] = logs
        ctx.store.put(stored)
    env["PATH"] = f"{env_dir / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["VIRTUAL_ENV"] = str(env_dir)
    processes = []
    for rank, log in zip(ranks, logs, strict=True):
        with open(work / log.rsplit("/", 1)[-1], "ab") as out:
            processes.append(subprocess.Popen(
                ["/bin/bash", "-c", command], stdout=out, stderr=subprocess.STDOUT,
                env={**env, **rank}, cwd=code_dir, start_new_session=True))
    batch_jobs.track(rid, processes)
    try:
        if ctx.store.get(rid)["properties"]["status"] != "Running":
            batch_jobs._kill(processes)
        timed_out = _wait(processes, props)
    finally:
        batch_jobs.untrack(rid)
    if ctx.store.get(rid)["properties"]["status"] in ("CancelRequested", "Canceled"):
        return False
    if timed_out:
        raise LroFailure("JobTimeout", f"The job ran longer than its limits.timeout "
                         f"({props['limits']['timeout']}) and was stopped.")
    for process, log in zip(processes, logs, strict=True):
        if process.returncode:
            raise LroFailure("UserError", _failure(command, process.returncode, log,
                                                   work / log.rsplit("/", 1)[-1]))
    return True


def _wait(processes: list[subprocess.Popen[bytes]], props: dict[str, Any]) -> bool:
    """Wait for every process; True if limits.timeout ended them."""
    timeout = (props.get("limits") or {}).get("timeout")
    deadline = time.monotonic() + duration_seconds(timeout) if timeout else None
    while any(p.poll() is None for p in processes):
        if deadline is not None and time.monotonic() > deadline:
            batch_jobs._kill(processes)
            for process in processes:
                process.wait()
            return True
        time.sleep(0.2)
    return False


def _failure(command: str, code: int, log: str, path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    program = (shlex.split(command) or ["bash"])[0] if command.strip() else "bash"
    return (f"Execution failed. User process '{program}' exited with status code {code}. "
            f"Please check log file '{log}' for error details. Error: "
            f"{lines[-1] if lines else ''}")


def _upload_outputs(ctx: Context, outputs: dict[str, Any], paths: dict[str, str]) -> None:
    client = ctx.azurite.client()
    for name, entry in outputs.items():
        container, prefix = resolve_blob(ctx, entry["uri"])
        local = Path(paths[name])
        if str(entry["jobOutputType"]).lower() == "uri_file":
            if not local.is_file():
                continue  # the job wrote no file: an empty output, as in Azure
            blob = prefix if not entry["uri"].endswith("/") else f"{prefix}/{local.name}"
            files = {blob: local}
        else:
            files = {f"{prefix}/{p.relative_to(local).as_posix()}".lstrip("/"): p
                     for p in sorted(local.rglob("*")) if p.is_file()}
        for blob, path in files.items():
            client.get_blob_client(container, blob).upload_blob(path.read_bytes(),
                                                                overwrite=True)
