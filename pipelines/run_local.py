"""Run the example pipeline end to end on this machine (what `nox -s demo` does).

Starts local mode's Azure ML (azml_components.local), runs train -> register -> deploy -> smoke
test with kfp.local for both deployment styles (MLflow no-code and a custom scoring script),
prints a progress line per step, the smoke test's predictions and where the outputs are, and
stops the stand-in, also when the run fails.
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_pipeline_locally(pipeline_root: Path, **arguments) -> dict:
    """Run train_register_deploy with kfp.local in this process's environment.

    Returns the smoke test's saved answer (the invoke_endpoint response artifact).
    """
    from kfp import local

    from azml_components.local.kfp_backend import kfp_backend_rules
    from pipelines.train_register_deploy import train_register_deploy

    # use_venv=False: tasks run with this interpreter, where the pinned packages already are.
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root))
    with kfp_backend_rules():  # fails a task as the KFP 2.x launcher would
        train_register_deploy(**arguments)
    answers = sorted(pipeline_root.glob("train-register-deploy-*/invoke-endpoint*/response"),
                     key=lambda p: p.stat().st_mtime)
    if not answers:
        raise RuntimeError(f"no smoke-test answer under {pipeline_root}")
    return json.loads(answers[-1].read_text())


def main(argv=None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default="mlflow,custom",
                        help="comma-separated model formats to run (mlflow, custom)")
    parser.add_argument("--out", type=Path, default=ROOT / "local_outputs",
                        help="where kfp.local writes the pipeline outputs")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from azml_components.local import local_azure_ml

    started = time.perf_counter()
    print("[demo] starting local mode's Azure ML ...", flush=True)
    with local_azure_ml() as standin:
        print(f"[demo] local Azure ML ready at {standin.url} "
              f"({time.perf_counter() - started:.1f} s)", flush=True)
        for model_format in [f.strip() for f in args.formats.split(",") if f.strip()]:
            step = time.perf_counter()
            print(f"[demo] running train-register-deploy with model_format={model_format}",
                  flush=True)
            answer = run_pipeline_locally(
                args.out,
                resource_group=standin.env["AZML_LOCAL_RESOURCE_GROUP"],
                workspace_name=standin.env["AZML_LOCAL_WORKSPACE"],
                model_format=model_format,
                endpoint_name=f"diabetes-{model_format}",
            )
            print(f"[demo] {model_format}: endpoint {answer['endpoint_name']} answered HTTP "
                  f"{answer['status']} in {answer['latency_ms']} ms with predictions "
                  f"{[round(p, 2) for p in answer['response']]} "
                  f"({time.perf_counter() - step:.1f} s)", flush=True)
    print(f"[demo] outputs are under {args.out}; total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
