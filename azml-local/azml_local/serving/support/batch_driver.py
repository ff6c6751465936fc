"""Runs one batch scoring job's scoring script, as Azure ML's batch runtime runs it.

Started by the stand-in (jobs.py) with the deployment environment's Python:
`python batch_driver.py CONFIG.json`. What it follows ("Author scoring scripts for batch
deployments", learn.microsoft.com; Azure/azureml-examples' batch deployments):
- `init()` once, then `run(mini_batch)` per mini-batch, where a mini-batch is a list of up to
  `mini_batch_size` file paths ("Batch deployments distribute work at the file level").
- `run()` returns a pandas DataFrame or a list; "Each returned output element indicates one
  successful run of an input element in the input mini_batch": fewer elements than files count
  the rest as failures; an exception fails every file of the mini-batch (after max_retries
  retries; a mini-batch running longer than `timeout` seconds fails too).
- error_threshold: the job is aborted once failed files exceed it; -1 ignores every failure.
- append_row: every mini-batch's rows are appended to one file (`output_file_name`), as CSV
  without a header (azureml-examples read it with pd.read_csv(..., names=[...])); summary_only
  writes no predictions file.
The outcome goes to RESULT.json: {"status", "error", "failed", "succeeded"}.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import sys
import traceback


def _load(code_dir: str, script: str):
    sys.path.insert(0, code_dir)
    spec = importlib.util.spec_from_file_location("score", os.path.join(code_dir, script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(result) -> list:
    try:
        import pandas as pd
    except ImportError:  # an environment without pandas can only return lists
        pd = None
    if pd is not None and isinstance(result, pd.DataFrame):
        return [list(row) for row in result.itertuples(index=False, name=None)]
    if result is None:
        return []
    return [item if isinstance(item, (list, tuple)) else [item] for item in list(result)]


def _timed_out(signum, frame):
    raise TimeoutError("the mini-batch did not finish within the retry settings' timeout")


def main(config_path: str) -> int:
    with open(config_path) as handle:
        config = json.load(handle)
    result = {"status": "Completed", "error": None, "failed": 0, "succeeded": 0}
    files = config["files"]
    size, threshold = config["mini_batch_size"], config["error_threshold"]
    out = None
    try:
        module = _load(config["code_dir"], config["script"])
        if hasattr(module, "init"):
            module.init()
    except Exception:  # noqa: BLE001 - the job's error
        traceback.print_exc()
        result.update(status="Failed", error={
            "code": "UserError", "message": "The scoring script's init() failed:\n"
            + traceback.format_exc(limit=-3)})
        return _finish(config, result)
    if config["output_action"] == "AppendRow":
        out = open(config["output_file"], "w", newline="")  # noqa: SIM115
        writer = csv.writer(out)
    signal.signal(signal.SIGALRM, _timed_out)
    for start in range(0, len(files), size):
        batch = files[start:start + size]
        rows, last_error = None, ""
        for attempt in range(config["max_retries"] + 1):
            try:
                signal.setitimer(signal.ITIMER_REAL, config["timeout_seconds"])
                try:
                    rows = _rows(module.run(list(batch)))
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                break
            except Exception:  # noqa: BLE001 - counted, retried, reported
                last_error = traceback.format_exc(limit=-3)
                print(f"mini-batch {start // size} attempt {attempt + 1} failed:\n{last_error}",
                      flush=True)
        if rows is None:
            result["failed"] += len(batch)
        else:
            result["failed"] += max(0, len(batch) - len(rows))
            result["succeeded"] += min(len(batch), len(rows))
            if out is not None:
                writer.writerows(rows)
                out.flush()
        print(f"mini-batch {start // size}: {len(batch)} files, "
              f"{result['failed']} failed so far", flush=True)
        if threshold != -1 and result["failed"] > threshold:
            result.update(status="Failed", error={
                "code": "UserError", "message": f"{result['failed']} of {len(files)} files "
                f"failed, more than the deployment's error_threshold ({threshold}); the job "
                f"was aborted. Last error:\n{last_error}"})
            break
    if out is not None:
        out.close()
    return _finish(config, result)


def _finish(config: dict, result: dict) -> int:
    with open(config["result_file"], "w") as handle:
        json.dump(result, handle)
    return 0 if result["status"] == "Completed" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
