"""Benchmarks (`nox -s bench`): wall times of the stand-in and the components, as numbers.

Writes bench/results/latest.json and prints a table. Not a test: machines here are noisy, so
numbers are recorded and compared by people, never asserted.
"""

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _timed(results: dict, name: str, function, repeat: int = 1):
    times, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - started)
    results[name] = {"seconds_median": round(statistics.median(times), 3),
                     "seconds_all": [round(t, 3) for t in times]}
    print(f"{name:<45} {statistics.median(times):8.2f} s  (n={repeat})", flush=True)
    return value


def main() -> int:
    """Run every benchmark once against a fresh stand-in."""
    sys.path.insert(0, str(ROOT))
    from azml_components.local.fixture import start
    from tests.helpers import data_payload, diabetes_rows, write_custom_model

    results: dict = {"python": platform.python_version(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="azml-bench-") as tmp:
        root = Path(tmp)
        standin = _timed(results, "standin_start", lambda: start(root / "state"))
        with standin:
            os.environ.update(standin.env)
            os.environ.pop("AZUREML_CURRENT_CLOUD", None)
            from azml_components.runtime import (
                azml_deploy_model,
                azml_invoke_endpoint,
                azml_register_model,
            )

            ws = {"subscription_id": standin.env["AZ_SUBSCRIPTION_ID"],
                  "resource_group": standin.env["AZML_LOCAL_RESOURCE_GROUP"],
                  "workspace_name": standin.env["AZML_LOCAL_WORKSPACE"]}
            model_dir, code_dir, _ = write_custom_model(root / "m")
            registered = _timed(results, "register_model (folder, 1 file)", lambda: (
                azml_register_model(**ws, model_name="bench", model_path=str(model_dir))),
                repeat=3)
            deploy = {**ws, "endpoint_name": "bench", "model_id": registered["asset_id"],
                      "options": {"code_path": str(code_dir), "scoring_script": "score.py",
                                  "conda_file": "conda.yaml"},
                      "timeout_seconds": 900}
            _timed(results, "deploy_model (new endpoint, env cold or cached)",
                   lambda: azml_deploy_model(**deploy, deployment_name="blue"))
            _timed(results, "deploy_model (second deployment, env cached)",
                   lambda: azml_deploy_model(**deploy, deployment_name="green",
                                             traffic_percent=0))
            _timed(results, "invoke_endpoint (SDK invoke, 4 rows)",
                   lambda: azml_invoke_endpoint(**ws, endpoint_name="bench",
                                                payload=data_payload(diabetes_rows())),
                   repeat=10)
            from pipelines.run_local import run_pipeline_locally

            _timed(results, "example pipeline via kfp.local (mlflow)",
                   lambda: run_pipeline_locally(root / "out", resource_group=ws["resource_group"],
                                                workspace_name=ws["workspace_name"],
                                                endpoint_name="bench-pipeline"))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
