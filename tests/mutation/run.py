"""`nox -s mutate`: how many deliberate bugs the tests catch.

1. mutmut over the runtime modules with fast tests (pyproject's [tool.mutmut]): every generated
   mutant is killed, or listed in guarantees.EQUIVALENT with the reason it cannot be killed, or
   sits in a function guarantees.OUT_OF_FAST_SCOPE hands to guarantee rows.
2. Each guarantee mutation (guarantees.GUARANTEES) patched into a temporary copy of the
   checkout (two rows at a time, each worker in a copy of its own), compiled/ regenerated there
   from the mutated source, with its tests run there against their own local Azure ML: each
   must make a test fail.

Prints the counts and writes .mutation/results.json and .mutation/results.md; exits non-zero
when fewer than 90% of the generated mutants are killed, a survivor is unexplained, or a
guarantee mutation survives. `--only NAME` runs those guarantee rows alone, `--no-mutmut` and
`--no-guarantees` skip a part.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.mutation.guarantees import EQUIVALENT, GUARANTEES, OUT_OF_FAST_SCOPE

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".mutation"
GOAL = 0.90


def _mutmut(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=ROOT, text=True,
                          capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"mutmut {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _mutated_line(name: str) -> str:
    # The line the mutant changed, as `mutmut show` prints it (the first '+' line of the diff).
    for line in _mutmut("show", name).splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            return line[1:].strip()
    return ""


def run_mutmut() -> dict:
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    started = time.monotonic()
    _mutmut("run", "--max-children", str(os.cpu_count() or 1))
    seconds = time.monotonic() - started
    counts: dict[str, int] = {}
    open_items, equivalent, out_of_scope = [], [], []
    for line in _mutmut("results", "--all", "true").splitlines():
        name, _, status = line.strip().rpartition(": ")
        if not name:
            continue
        counts[status] = counts.get(status, 0) + 1
        if status == "killed":
            continue
        function = name.rsplit(".", 1)[-1].split("__mutmut_")[0].removeprefix("x_")
        mutated = _mutated_line(name)
        item = {"mutant": name, "status": status, "function": function, "line": mutated}
        if status == "survived" and (function, mutated) in EQUIVALENT:
            equivalent.append({**item, "why": EQUIVALENT[(function, mutated)]})
        elif status == "no tests" and function in OUT_OF_FAST_SCOPE:
            out_of_scope.append({**item, "covered_by": OUT_OF_FAST_SCOPE[function]})
        else:
            open_items.append(item)
    total = sum(counts.values())
    killed = counts.get("killed", 0)
    return {"seconds": round(seconds, 1), "total": total, "counts": counts, "killed": killed,
            "score": killed / total if total else 0.0,
            "score_without_equivalent": killed / (total - len(equivalent)) if total else 0.0,
            "equivalent": equivalent, "out_of_fast_scope": out_of_scope,
            "unexplained": open_items}


def _copy_checkout(target: Path) -> None:
    # The files git knows of, committed or not (the working tree as it is), nothing ignored.
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
        capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _run_row(row: dict, copy: Path) -> dict:
    # One guarantee row in one copy of the checkout: patch, recompile, run its tests, restore.
    # The copy's two packages are imported, not the editable installs of this checkout:
    # azml_components from the copy's root, azml_local from its azml-local/ (a row may mutate
    # either).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(copy), str(copy / "azml-local")])}
    path = copy / row["file"]
    original = path.read_text()
    found = original.count(row["old"])
    result = {"name": row["name"], "promise": row["promise"], "file": row["file"],
              "tests": row["tests"]}
    if found != 1:
        return {**result, "outcome": f"patch text found {found} times"}
    path.write_text(original.replace(row["old"], row["new"]))
    started = time.monotonic()
    try:
        # compiled/ from the mutated source: tests that run the committed YAML (kfp.local
        # pipelines, the embedded-code probe) must meet the mutant too.
        subprocess.run([sys.executable, "-m", "tools.compile_all"], cwd=copy, env=env,
                       capture_output=True, check=True, timeout=600)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly",
             "-p", "no:cacheprovider", *row["tests"]],
            cwd=copy, env=env, capture_output=True, text=True, timeout=1800)
        code, output = done.returncode, done.stdout
    except subprocess.TimeoutExpired:
        code, output = -1, "timed out"
    except subprocess.CalledProcessError as error:
        # The mutant does not even compile: tests/test_compiled.py fails on it.
        code, output = 1, f"FAILED compile_all on the mutant: {error.stderr[-300:]}"
    finally:
        path.write_text(original)
        shutil.rmtree(copy / "compiled")
        shutil.copytree(ROOT / "compiled", copy / "compiled")
    # pytest: 1 = tests failed (the mutation was caught), 0 = it survived; any other code
    # means the row itself is wrong (no such test, an interrupted run).
    outcome = {1: "killed", 0: "SURVIVED"}.get(code, f"error (pytest exit {code})")
    failed = [line for line in output.splitlines() if line.startswith("FAILED")]
    return {**result, "outcome": outcome, "seconds": round(time.monotonic() - started, 1),
            "caught_by": failed[:3]}


def run_guarantees(only: list[str], workers: int = 2) -> list[dict]:
    # Rows run `workers` at a time, each worker in a copy of the checkout of its own (a row's
    # tests mostly wait on local mode's servers, so two share 2 cores well); results keep the
    # rows' order.
    import queue
    import threading

    rows = [g for g in GUARANTEES if not only or g["name"] in only]
    unknown = set(only) - {g["name"] for g in GUARANTEES}
    if unknown:
        raise SystemExit(f"no guarantee row named {', '.join(sorted(unknown))}")
    results: list = [None] * len(rows)
    pending: queue.Queue = queue.Queue()
    for index, row in enumerate(rows):
        pending.put((index, row))
    with tempfile.TemporaryDirectory(prefix="azml-guarantee-") as tmp:

        def work(copy: Path) -> None:
            _copy_checkout(copy)
            while True:
                try:
                    index, row = pending.get_nowait()
                except queue.Empty:
                    return
                results[index] = _run_row(row, copy)
                seconds = results[index].get("seconds", "")
                print(f"guarantee {row['name']}: {results[index]['outcome']} {seconds} s",
                      flush=True)

        threads = [threading.Thread(target=work, args=(Path(tmp) / f"checkout-{n}",))
                   for n in range(max(1, min(workers, len(rows))))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return results


def _markdown(report: dict) -> str:
    lines = ["# Mutation results", ""]
    mutmut = report.get("mutmut")
    if mutmut:
        lines += [f"mutmut: {mutmut['killed']} of {mutmut['total']} mutants killed "
                  f"({mutmut['score']:.1%}; {mutmut['score_without_equivalent']:.1%} without the "
                  f"{len(mutmut['equivalent'])} equivalent ones) in {mutmut['seconds']} s; "
                  f"statuses {mutmut['counts']}", "", "| equivalent mutant | why |", "|---|---|"]
        lines += [f"| `{e['function']}`: `{e['line']}` | {e['why']} |"
                  for e in mutmut["equivalent"]]
        lines += ["", "| not reached by the fast tests | covered by guarantee rows |", "|---|---|"]
        lines += [f"| `{e['function']}`: `{e['line']}` | {', '.join(e['covered_by'])} |"
                  for e in mutmut["out_of_fast_scope"]]
        if mutmut["unexplained"]:
            lines += ["", "Unexplained survivors:", ""]
            lines += [f"- {e['mutant']} ({e['status']}): `{e['line']}`"
                      for e in mutmut["unexplained"]]
    rows = report.get("guarantees")
    if rows:
        lines += ["", "| guarantee mutation | promise | outcome | seconds |", "|---|---|---|---|"]
        lines += [f"| {r['name']} | {r['promise']} | {r['outcome']} | {r.get('seconds', '')} |"
                  for r in rows]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="guarantee rows to run")
    parser.add_argument("--no-mutmut", action="store_true")
    parser.add_argument("--no-guarantees", action="store_true")
    parser.add_argument("--workers", type=int, default=2,
                        help="guarantee rows run at a time (each in its own copy)")
    args = parser.parse_args()
    started = time.monotonic()
    report: dict = {}
    if not args.no_mutmut and not args.only:
        report["mutmut"] = run_mutmut()
        m = report["mutmut"]
        print(f"mutmut: {m['killed']} killed of {m['total']} ({m['score']:.1%}), "
              f"{len(m['equivalent'])} equivalent, {len(m['out_of_fast_scope'])} out of the fast "
              f"scope, {len(m['unexplained'])} unexplained; {m['seconds']} s", flush=True)
    if not args.no_guarantees:
        report["guarantees"] = run_guarantees(args.only, args.workers)
        killed = sum(r["outcome"] == "killed" for r in report["guarantees"])
        print(f"guarantee mutations: {killed} killed, {len(report['guarantees']) - killed} "
              "not killed", flush=True)
    report["seconds"] = round(time.monotonic() - started, 1)
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (OUT / "results.md").write_text(_markdown(report))
    print(f"results: {OUT / 'results.md'} ({report['seconds']} s)")
    failed = []
    if "mutmut" in report:
        m = report["mutmut"]
        if m["score"] < GOAL:
            failed.append(f"mutmut score {m['score']:.1%} is under {GOAL:.0%}")
        if m["unexplained"]:
            failed.append(f"{len(m['unexplained'])} mutmut survivors are unexplained")
    failed += [f"guarantee {r['name']}: {r['outcome']}" for r in report.get("guarantees", [])
               if r["outcome"] != "killed"]
    for line in failed:
        print(f"FAILED: {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
