"""Run the example pipeline end to end on this machine (what `nox -s demo` does).

Starts local mode's Azure ML (azml_local), runs train -> register -> deploy -> smoke
test with kfp.local for both deployment styles (MLflow no-code and a custom scoring script),
prints one line per task (name, status, seconds) and the smoke test's predictions, keeps every
task's full log in a file whose path it prints, and stops the stand-in, also when the run fails.
"""

import argparse
import contextlib
import json
import re
import sys
import time
from pathlib import Path
from typing import Optional

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
        print(f"  {task:<28} {status:<8} {seconds:6.1f} s", file=self.out, flush=True)

    def flush(self) -> None:
        self.log.flush()

    def isatty(self) -> bool:
        return False


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
        train_register_deploy(**arguments)
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
        train_register_batch_score(**arguments)
    found = sorted(pipeline_root.glob("train-register-batch-score-*/score-batch/predictions/*"),
                   key=lambda p: p.stat().st_mtime)
    if not found:
        raise RuntimeError(f"no batch predictions under {pipeline_root}")
    return found[-1].read_text().splitlines()


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
        monitor_and_retrain(**arguments)
    runs = sorted(pipeline_root.glob("monitor-and-retrain-*"), key=lambda p: p.stat().st_mtime)
    if not runs or not list(runs[-1].glob("check-drift/summary")):
        raise RuntimeError(f"no drift summary under {pipeline_root}")
    return {"summary": next(runs[-1].glob("check-drift/summary")).read_text(),
            "report": str(next(runs[-1].glob("check-drift/report"))),
            "rolled_out": bool(list(runs[-1].glob("safe-rollout/report")))}


def main(argv=None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default="mlflow,custom",
                        help="comma-separated model formats to run (mlflow, custom)")
    parser.add_argument("--batch", action="store_true",
                        help="also run train-register-batch-score (batch endpoint example)")
    parser.add_argument("--monitor", action="store_true",
                        help="also run monitor-and-retrain (data collection, drift, retrain)")
    parser.add_argument("--out", type=Path, default=ROOT / "local_outputs",
                        help="where kfp.local writes the pipeline outputs")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from azml_local import local_azure_ml

    started = time.perf_counter()
    print("[demo] starting local mode's Azure ML ...", flush=True)
    with local_azure_ml() as standin:
        print(f"[demo] local Azure ML ready at {standin.url} "
              f"({time.perf_counter() - started:.1f} s)", flush=True)
        for model_format in [f.strip() for f in args.formats.split(",") if f.strip()]:
            step = time.perf_counter()
            task_log = args.out / "logs" / f"train-register-deploy-{model_format}.log"
            print(f"[demo] running train-register-deploy with model_format={model_format} "
                  f"(full task logs: {task_log})", flush=True)
            try:
                answer = run_pipeline_locally(
                    args.out,
                    task_log=task_log,
                    resource_group=standin.env["AZML_LOCAL_RESOURCE_GROUP"],
                    workspace_name=standin.env["AZML_LOCAL_WORKSPACE"],
                    model_format=model_format,
                    endpoint_name=f"diabetes-{model_format}",
                )
            except BaseException:
                print(f"[demo] {model_format} failed; the end of the task logs "
                      f"(all of them: {task_log}):", flush=True)
                if task_log.exists():
                    print("".join(task_log.read_text(errors="replace").splitlines(True)[-40:]))
                raise
            print(f"[demo] {model_format}: endpoint {answer['endpoint_name']} answered HTTP "
                  f"{answer['status']} in {answer['latency_ms']} ms with predictions "
                  f"{[round(p, 2) for p in answer['response']]} "
                  f"({time.perf_counter() - step:.1f} s)", flush=True)
        if args.batch:
            step = time.perf_counter()
            task_log = args.out / "logs" / "train-register-batch-score.log"
            print(f"[demo] running train-register-batch-score (full task logs: {task_log})",
                  flush=True)
            lines = run_batch_pipeline_locally(
                args.out, task_log=task_log,
                resource_group=standin.env["AZML_LOCAL_RESOURCE_GROUP"],
                workspace_name=standin.env["AZML_LOCAL_WORKSPACE"])
            print(f"[demo] batch: {len(lines)} predictions checked against the model, first "
                  f"{lines[:2]} ({time.perf_counter() - step:.1f} s)", flush=True)
        if args.monitor:
            task_log = args.out / "logs" / "monitor-and-retrain.log"
            print(f"[demo] running monitor-and-retrain (full task logs: {task_log})", flush=True)
            found = run_monitor_pipeline_locally(
                args.out, task_log=task_log,
                resource_group=standin.env["AZML_LOCAL_RESOURCE_GROUP"],
                workspace_name=standin.env["AZML_LOCAL_WORKSPACE"])
            outcome = next(line for line in found["summary"].splitlines() if "outcome" in line)
            print(f"[demo] monitor: {outcome.strip('- ').replace('**', '')}; retrained and "
                  f"rolled out: {found['rolled_out']}; report: {found['report']}", flush=True)
    print(f"[demo] outputs and task logs are under {args.out}; "
          f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
