"""Run the example pipelines end to end on this machine (what `nox -s demo` does).

Starts local mode's Azure ML (azml_local) unless one is running already (its variables in the
environment, as `nox -s demo` starts it while installing), then runs the examples in EXAMPLES
with kfp.local, each in its own process and all at the same time: train -> register -> deploy
-> smoke test for both deployment styles (MLflow no-code and a custom scoring script), and the
batch example with --batch. Prints one line per task (pipeline, name, status, seconds) and each
smoke test's answer, keeps every task's full log in a file whose path it prints, and stops the
stand-in it started, also when a run fails.

With --subscription/--resource-group/--workspace it runs on your own Azure ML workspace instead
(pipelines/own_workspace.py): unique names, the cost of what it creates, and everything it
created deleted at the end, also on Ctrl-C or a failed step.
"""

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Optional

ROOT = Path(__file__).resolve().parent.parent


class _TaskLines:
    """sys.stdout while kfp.local runs: all of it to the log file, one line per ended task out.

    A task's line gives its name, status and seconds.
    """

    # kfp.local's own lines, e.g. "12:00:01.234 - INFO - Executing task 'register-model'" and
    # "... Task 'register-model' finished with status SUCCESS" (names and status in colour).
    STARTED = re.compile(r"Executing task '(?P<task>[^']+)'")
    FINISHED = re.compile(r"Task '(?P<task>[^']+)' finished with status (?P<status>[A-Z]+)")
    COLOUR = re.compile(r"\x1b\[[0-9;]*m")

    def __init__(self, log, out):
        self.log, self.out, self.partial, self.started = log, out, "", {}
        self.label = os.environ.get("AZML_DEMO_LABEL", "")  # the example, when several run

    def write(self, text: str) -> int:
        self.log.write(text)
        lines = (self.partial + text).split("\n")
        self.partial = lines.pop()
        for line in lines:
            self._task_line(self.COLOUR.sub("", line))
        return len(text)

    def _task_line(self, line: str) -> None:
        started = self.STARTED.search(line)
        if started:
            self.started[started["task"]] = time.monotonic()
            return
        finished = self.FINISHED.search(line)
        if finished:
            began = self.started.pop(finished["task"], time.monotonic())
            self.report(finished["task"], finished["status"], time.monotonic() - began)

    def report(self, task: str, status: str, seconds: float) -> None:
        label = f"{self.label:<7} " if self.label else ""
        print(f"  {label}{task:<28} {status:<8} {seconds:6.1f} s", file=self.out, flush=True)

    def flush(self) -> None:
        self.log.flush()

    def isatty(self) -> bool:
        return False


def _as_from_image(pipeline):
    # Each task as it starts in the prebuilt image: the pins are installed in this venv already,
    # so kfp's start-up pip runs (about 2 s a task) are cut, after one check that they are
    # (azml_components/testing/preinstalled.py). AZML_DEMO_AS_COMPILED=1 keeps them.
    if os.environ.get("AZML_DEMO_AS_COMPILED") == "1":
        return pipeline
    from azml_components.testing.preinstalled import preinstalled

    return preinstalled(pipeline)


@contextlib.contextmanager
def _tasks_to(task_log: Path):
    # kfp.local prints every task's streamed log and its progress to sys.stdout.
    task_log.parent.mkdir(parents=True, exist_ok=True)
    with open(task_log, "a", encoding="utf-8") as log:
        lines = _TaskLines(log, sys.stdout)
        with contextlib.redirect_stdout(lines):
            try:
                yield
            finally:
                # A task still running when the run stopped did not finish.
                for task, began in lines.started.items():
                    lines.report(task, "STOPPED", time.monotonic() - began)


def run_pipeline_locally(pipeline_root: Path, task_log: Optional[Path] = None, **arguments) -> dict:
    """Run train_register_deploy with kfp.local in this process's environment.

    With ``task_log``, kfp.local's output (every task's full log) is appended to that file and
    one line per task (name, status, seconds) is printed instead. Returns the smoke test's saved
    answer (the invoke_endpoint response artifact).
    """
    from kfp import local

    from azml_components.testing.kfp_backend import kfp_backend_rules
    from pipelines.train_register_deploy import train_register_deploy

    # use_venv=False: tasks run with this interpreter, where the pinned packages already are.
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root))
    # kfp_backend_rules fails a task as the KFP 2.x launcher would.
    with kfp_backend_rules(), _tasks_to(task_log) if task_log else contextlib.nullcontext():
        _as_from_image(train_register_deploy)(**arguments)
    answers = sorted(pipeline_root.glob("train-register-deploy-*/invoke-endpoint*/response"),
                     key=lambda p: p.stat().st_mtime)
    if not answers:
        raise RuntimeError(f"no smoke-test answer under {pipeline_root}")
    return json.loads(answers[-1].read_text())


def run_batch_pipeline_locally(pipeline_root: Path, task_log: Optional[Path] = None,
                               **arguments) -> list:
    """Run train_register_batch_score with kfp.local; returns the batch predictions' lines."""
    from kfp import local

    from azml_components.testing.kfp_backend import kfp_backend_rules
    from pipelines.train_register_batch_score import train_register_batch_score

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root))
    with kfp_backend_rules(), _tasks_to(task_log) if task_log else contextlib.nullcontext():
        _as_from_image(train_register_batch_score)(**arguments)
    found = sorted(pipeline_root.glob("train-register-batch-score-*/score-batch/predictions/*"),
                   key=lambda p: p.stat().st_mtime)
    if not found:
        raise RuntimeError(f"no batch predictions under {pipeline_root}")
    return found[-1].read_text().splitlines()


def run_promotion_locally(pipeline_root: Path, task_log: Optional[Path] = None,
                          **arguments) -> Path:
    """Run promote_to_production with kfp.local; returns the run's output folder."""
    from kfp import local

    from azml_components.testing.kfp_backend import kfp_backend_rules
    from pipelines.promote_to_production import promote_to_production

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root))
    with kfp_backend_rules(), _tasks_to(task_log) if task_log else contextlib.nullcontext():
        _as_from_image(promote_to_production)(**arguments)
    return max(pipeline_root.glob("promote-to-production-*"), key=lambda p: p.stat().st_mtime)


def run_azure_training_locally(pipeline_root: Path, task_log: Optional[Path] = None,
                               **arguments) -> dict:
    """Run train_on_azure_ml (training as an Azure ML command job) with kfp.local.

    Returns the smoke test's saved answer.
    """
    from kfp import local

    from azml_components.testing.kfp_backend import kfp_backend_rules
    from pipelines.train_on_azure_ml import train_on_azure_ml

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root))
    with kfp_backend_rules(), _tasks_to(task_log) if task_log else contextlib.nullcontext():
        _as_from_image(train_on_azure_ml)(**arguments)
    answers = sorted(pipeline_root.glob("train-on-azure-ml-*/**/invoke-endpoint/response"),
                     key=lambda p: p.stat().st_mtime)
    if not answers:
        raise RuntimeError(f"no smoke-test answer under {pipeline_root}")
    return json.loads(answers[-1].read_text())


def run_monitor_pipeline_locally(pipeline_root: Path, task_log: Optional[Path] = None,
                                 **arguments) -> dict:
    """Run monitor_and_retrain with kfp.local; returns check_drift's summary and what followed."""
    from kfp import local

    from azml_components.testing.kfp_backend import kfp_backend_rules
    from azml_components.testing.kfp_local_conditions import named_output_conditions
    from pipelines.monitor_and_retrain import monitor_and_retrain

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root))
    # kfp.local 2.17 cannot read a named output in dsl.If (drift_detected); the backend can.
    with kfp_backend_rules(), named_output_conditions(), \
            _tasks_to(task_log) if task_log else contextlib.nullcontext():
        _as_from_image(monitor_and_retrain)(**arguments)
    runs = sorted(pipeline_root.glob("monitor-and-retrain-*"), key=lambda p: p.stat().st_mtime)
    if not runs or not list(runs[-1].glob("check-drift/summary")):
        raise RuntimeError(f"no drift summary under {pipeline_root}")
    return {"summary": next(runs[-1].glob("check-drift/summary")).read_text(),
            "report": str(next(runs[-1].glob("check-drift/report"))),
            "rolled_out": bool(list(runs[-1].glob("safe-rollout/report")))}


class Example(NamedTuple):
    """One example pipeline the demo can run (a row of EXAMPLES).

    arguments(workspace) gives its pipeline arguments (names made unique on your own workspace);
    run(out, task_log, arguments) runs it with kfp.local and returns a one-line summary;
    endpoints and models name what it creates, for the cost notice and the clean-up.
    """

    arguments: Callable
    run: Callable
    endpoints: tuple = ()
    models: tuple = ()
    batch_endpoints: tuple = ()


def _online(model_format: str) -> Example:
    def arguments(ws) -> dict:
        return {**ws.arguments(), "model_format": model_format,
                "model_name": ws.name("diabetes-ridge"),
                "endpoint_name": ws.name(f"diabetes-{model_format}")}

    def run(out: Path, task_log: Path, arguments: dict) -> str:
        answer = run_pipeline_locally(out, task_log=task_log, **arguments)
        return (f"endpoint {answer['endpoint_name']} answered HTTP {answer['status']} in "
                f"{answer['latency_ms']} ms with predictions "
                f"{[round(p, 2) for p in answer['response']]}")

    return Example(arguments, run, endpoints=(f"diabetes-{model_format}",),
                   models=("diabetes-ridge",))


def _batch() -> Example:
    def arguments(ws) -> dict:
        return {**ws.arguments(), "model_name": ws.name("diabetes-ridge-batch"),
                "endpoint_name": ws.name("diabetes-batch")}

    def run(out: Path, task_log: Path, arguments: dict) -> str:
        lines = run_batch_pipeline_locally(out, task_log=task_log, **arguments)
        return f"{len(lines)} predictions checked against the model, first {lines[:2]}"

    return Example(arguments, run, models=("diabetes-ridge-batch",),
                   batch_endpoints=("diabetes-batch",))


def _promote() -> Example:
    # dev workspace -> registry -> prod workspace (another resource group): local mode's second
    # workspace and registry; on your own workspaces the pipeline takes their names as inputs.
    def arguments(ws) -> dict:
        if ws.subscription_id:
            raise SystemExit("[demo] --promote runs on local mode only: on your own workspaces "
                             "run pipelines/promote_to_production.py with your registry and "
                             "prod workspace (docs/registries.md)")
        env = os.environ
        return {"dev_resource_group": env["AZML_LOCAL_RESOURCE_GROUP"],
                "dev_workspace_name": env["AZML_LOCAL_WORKSPACE"],
                "registry_name": env["AZML_LOCAL_REGISTRY"],
                "prod_resource_group": env["AZML_LOCAL_PROD_RESOURCE_GROUP"],
                "prod_workspace_name": env["AZML_LOCAL_PROD_WORKSPACE"],
                "endpoint_name": "diabetes-prod", "new_deployment_name": f"v{int(time.time())}"}

    def run(out: Path, task_log: Path, arguments: dict) -> str:
        run_promotion_locally(out, task_log=task_log, **arguments)
        return (f"promoted through registry {arguments['registry_name']} to endpoint "
                f"{arguments['endpoint_name']} in the prod workspace")

    return Example(arguments, run)


def _azure_training() -> Example:
    # Training as an Azure ML command job (a compute cluster named cpu-cluster), then register
    # the job's output by reference, deploy and smoke-test.
    def arguments(ws) -> dict:
        return {**ws.arguments(), "model_name": ws.name("diabetes-azure-trained"),
                "endpoint_name": ws.name("diabetes-trained")}

    def run(out: Path, task_log: Path, arguments: dict) -> str:
        answer = run_azure_training_locally(out, task_log=task_log, **arguments)
        return (f"trained as a command job; endpoint answered HTTP {answer['status']} with "
                f"{[round(p, 2) for p in answer['response']]}")

    return Example(arguments, run, endpoints=("diabetes-trained",),
                   models=("diabetes-azure-trained",))


def _monitor() -> Example:
    # Deploy with data collection, send a day of shifted traffic, check drift, and retrain,
    # register and roll out when it drifted.
    def arguments(ws) -> dict:
        return {**ws.arguments(), "model_name": ws.name("diabetes-monitored"),
                "endpoint_name": ws.name("diabetes-monitored")}

    def run(out: Path, task_log: Path, arguments: dict) -> str:
        found = run_monitor_pipeline_locally(out, task_log=task_log, **arguments)
        outcome = next(line for line in found["summary"].splitlines() if "outcome" in line)
        return (f"{outcome.strip('- ').replace('**', '')}; retrained and rolled out: "
                f"{found['rolled_out']}; report: {found['report']}")

    return Example(arguments, run, endpoints=("diabetes-monitored",),
                   models=("diabetes-monitored",))


#: The examples by the name --formats / --batch select them with. Add a row for a new example
#: (and a flag in _parser that selects it).
EXAMPLES = {
    "mlflow": _online("mlflow"),
    "custom": _online("custom"),
    "batch": _batch(),
    "promote": _promote(),
    "azure-training": _azure_training(),
    "monitor": _monitor(),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default="mlflow,custom",
                        help="comma-separated model formats to run (mlflow, custom)")
    parser.add_argument("--batch", action="store_true",
                        help="also run train-register-batch-score (batch endpoint example)")
    parser.add_argument("--promote", action="store_true",
                        help="also run promote-to-production (dev -> registry -> prod)")
    parser.add_argument("--azure-training", action="store_true",
                        help="also run train-on-azure-ml (training as an Azure ML command job)")
    parser.add_argument("--monitor", action="store_true",
                        help="also run monitor-and-retrain (data collection, drift, retrain)")
    parser.add_argument("--out", type=Path, default=ROOT / "local_outputs",
                        help="where kfp.local writes the pipeline outputs")
    parser.add_argument("--one-after-another", action="store_true",
                        help="run the examples one at a time instead of all at once")
    own = parser.add_argument_group("your own Azure ML workspace instead of local mode")
    own.add_argument("--subscription", default="", help="subscription id")
    own.add_argument("--resource-group", default="", help="resource group of the workspace")
    own.add_argument("--workspace", default="", help="Azure ML workspace name")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)  # one example, in-process
    parser.add_argument("--suffix", default="", help=argparse.SUPPRESS)
    return parser


def _selected(args) -> list:
    names = [f.strip() for f in args.formats.split(",") if f.strip()]
    return (names + (["batch"] if args.batch else [])
            + (["promote"] if args.promote else [])
            + (["azure-training"] if args.azure_training else [])
            + (["monitor"] if args.monitor else []))


def main(argv=None) -> int:
    """Command line entry point."""
    args = _parser().parse_args(argv)
    sys.path.insert(0, str(ROOT))
    for name in _selected(args):
        if name not in EXAMPLES:
            raise SystemExit(f"unknown example {name!r}; known: {', '.join(EXAMPLES)}")
    if args.child:
        return _run_child(args)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("[demo] interrupted", flush=True)
        return 130


def _run(args) -> int:
    started = time.perf_counter()
    if args.subscription or args.resource_group or args.workspace:
        return _on_own_workspace(args, started)
    if os.environ.get(READY_FILE) and not os.environ.get("AZML_LOCAL_URL"):
        # nox -s demo starts local mode while the examples start: each waits for it (_run_child)
        return _run_examples(args, None, started)
    if os.environ.get("AZML_LOCAL_URL"):  # a local mode is running already
        print(f"[demo] using local mode's Azure ML at {os.environ['AZML_LOCAL_URL']}", flush=True)
        return _run_examples(args, _local_workspace(), started)
    from azml_local import local_azure_ml

    print("[demo] starting local mode's Azure ML ...", flush=True)
    with local_azure_ml() as standin:
        print(f"[demo] local Azure ML ready at {standin.url} "
              f"({time.perf_counter() - started:.1f} s)", flush=True)
        return _run_examples(args, _local_workspace(), started)


#: Set by `nox -s demo`, which starts local mode while the examples start: the file local mode
#: writes when it is ready (its variables under "env"); `<file>.failed` says why it did not start;
#: `<file>.installed` that Azurite is installed (npm's install is over).
READY_FILE = "AZML_LOCAL_READY_FILE"


def wait_for_local_mode(step: str = "") -> None:
    """Wait for the local mode `nox -s demo` is starting, then take the variables it exports.

    With ``step="installed"``, wait only until Azurite's install is over (or local mode is up).
    """
    ready = Path(os.environ[READY_FILE])
    failed = ready.with_name(ready.name + ".failed")
    installed = ready.with_name(ready.name + ".installed")
    while not ready.exists():
        if failed.exists():
            raise SystemExit(f"[demo] local mode did not start:\n{failed.read_text()[-3000:]}")
        if step == "installed" and installed.exists():
            return
        time.sleep(0.05)
    if not step:
        os.environ.update(json.loads(ready.read_text())["env"])


def _local_workspace():
    from pipelines.own_workspace import Workspace

    return Workspace("", os.environ["AZML_LOCAL_RESOURCE_GROUP"],
                     os.environ["AZML_LOCAL_WORKSPACE"], "")


def _on_own_workspace(args, started: float) -> int:
    from pipelines import own_workspace

    try:
        ws = own_workspace.own_workspace(args.subscription, args.resource_group, args.workspace)
    except ValueError as error:
        raise SystemExit(f"[demo] {error}") from None
    examples = [EXAMPLES[n] for n in _selected(args)]
    endpoints = sorted({ws.name(e) for x in examples for e in x.endpoints})
    models = sorted({ws.name(m) for x in examples for m in x.models})
    batch = sorted({ws.name(e) for x in examples for e in x.batch_endpoints})
    print(f"[demo] your workspace {ws.workspace_name} (resource group {ws.resource_group}); "
          f"this run creates, and deletes at the end:", flush=True)
    print(f"[demo] will create: endpoints {', '.join(endpoints) or '-'}; "
          f"models {', '.join(models)}" + (f"; batch endpoints {', '.join(batch)}" if batch
                                           else ""), flush=True)
    print("\n".join(own_workspace.cost_lines(endpoints)), flush=True)
    # Ctrl-C (SIGINT) and SIGTERM both end the runs and still clean up.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return _run_examples(args, ws, started)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop the clean-up
        print("[demo] removing what this run created ...", flush=True)
        left = own_workspace.clean_up(ws, endpoints, models, batch)
        for what in left:
            print(f"[demo] could not remove {what}: delete it yourself", flush=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _run_examples(args, ws, started: float) -> int:
    # Each example in its own process (kfp.local's configuration is per process), all at once.
    # ws None: local mode is still starting; each child names its workspace once it is up.
    names = _selected(args)
    children = {}
    failed = []
    try:
        for name in names:
            # name=value: a suffix or name starting with "-" is not taken for an option.
            command = [sys.executable, "-m", "pipelines.run_local", f"--child={name}",
                       f"--out={args.out}"]
            if ws is not None:
                command += [f"--suffix={ws.suffix}", f"--subscription={ws.subscription_id}",
                            f"--resource-group={ws.resource_group}",
                            f"--workspace={ws.workspace_name}"]
            # Its own session: a Ctrl-C reaches this process only, which stops each child's
            # whole group (kfp.local's task processes too) and waits for it.
            children[name] = subprocess.Popen(
                command, cwd=ROOT, start_new_session=True,
                env={**os.environ, "AZML_DEMO_LABEL": name})
            if args.one_after_another and children[name].wait():
                failed.append(name)
        if ws is None:
            wait_for_local_mode()
            print(f"[demo] using local mode's Azure ML at {os.environ['AZML_LOCAL_URL']}",
                  flush=True)
        for name, child in children.items():
            if child.wait() and name not in failed:
                failed.append(name)
    finally:
        for child in children.values():
            _stop(child)
    print(f"[demo] outputs and task logs are under {args.out}; "
          f"total {time.perf_counter() - started:.1f} s", flush=True)
    if failed:
        print(f"[demo] failed: {', '.join(failed)}", flush=True)
        return 1
    return 0


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def _run_child(args) -> int:
    # One example in this process: its own pipeline root, its own task log, one summary line.
    from pipelines.own_workspace import Workspace

    name = args.child
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if os.environ.get(READY_FILE) and not args.workspace:
        # The slow imports while local mode starts, but after Azurite's npm install: on a first
        # run they compile bytecode, and on 2 cores that held up npm, which local mode waits for.
        wait_for_local_mode("installed")
        import kfp.local  # noqa: F401

        import azml_components  # noqa: F401

        wait_for_local_mode()
        ws = _local_workspace()
    else:
        ws = Workspace(args.subscription, args.resource_group, args.workspace, args.suffix)
    out = args.out / name
    task_log = args.out / "logs" / f"{name}.log"
    print(f"[demo] {name}: running (full task logs: {task_log})", flush=True)
    step = time.perf_counter()
    try:
        summary = EXAMPLES[name].run(out, task_log, EXAMPLES[name].arguments(ws))
    except KeyboardInterrupt:  # Ctrl-C or the parent's SIGTERM: kfp.local stopped its task
        print(f"[demo] {name}: stopped", flush=True)
        return 130
    except BaseException:
        print(f"[demo] {name} failed; the end of its task logs (all of them: {task_log}):",
              flush=True)
        if task_log.exists():
            print("".join(task_log.read_text(errors="replace").splitlines(True)[-40:]),
                  flush=True)
        raise
    seconds = time.perf_counter() - step
    print(f"[demo] {name}: {summary} ({seconds:.1f} s)", flush=True)
    _record_phase(f"pipeline {name}", seconds)
    return 0


def _record_phase(phase: str, seconds: float) -> None:
    # For the first-run benchmark (bench/first_run.py), as noxfile.py's _Phases writes them.
    path = os.environ.get("AZML_DEMO_TIMINGS")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"phase": phase, "seconds": round(seconds, 2)}) + "\n")


if __name__ == "__main__":
    sys.exit(main())
