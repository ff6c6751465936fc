"""Run one runtime function in a process of its own, for tests that send it SIGTERM.

`python -m tests.child_call MODULE:FUNCTION 'JSON KWARGS'` installs a SIGTERM handler of its own
(as a caller might have), calls the function and prints one JSON line: the result or the error,
and whether the caller's handler is back in place afterwards. A test signals only this process,
never pytest itself or anything else on the machine.
"""

import importlib
import json
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "\nchild_call report: "


def start(target: str, **kwargs) -> subprocess.Popen:
    """Start `target` (MODULE:FUNCTION) with `kwargs` in a child process (os.environ inherited)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.child_call", target, json.dumps(kwargs)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def outcome(child: subprocess.Popen, timeout: float = 300) -> dict:
    """Wait for the child; return its JSON report (with its exit code and stderr)."""
    out, err = child.communicate(timeout=timeout)
    # The SDK prints progress dots to stdout: the report follows a marker.
    report = json.loads(out.rpartition(MARKER)[2]) if MARKER in out else {}
    return {**report, "returncode": child.returncode, "stderr": err}


def main() -> None:
    target, arguments = sys.argv[1], json.loads(sys.argv[2])
    module, name = target.split(":")
    function = getattr(importlib.import_module(module), name)
    received = []

    def callers_handler(signum, frame):
        received.append(signum)

    signal.signal(signal.SIGTERM, callers_handler)
    report = {}
    try:
        report["result"] = function(**arguments)
    except BaseException as error:  # noqa: BLE001 - reported to the test
        report["error"] = type(error).__name__
        report["message"] = str(error)
    report["handler_restored"] = signal.getsignal(signal.SIGTERM) is callers_handler
    report["caller_saw_sigterm"] = bool(received)
    print(MARKER + json.dumps(report, default=str), flush=True)


if __name__ == "__main__":
    main()
