"""Benchmarks (`nox -s bench`): our components against the bare SDK, side by side, as ratios.

Every measure runs both sides in one process against one fresh stand-in, interleaved (the order
alternates each round) and reports medians, so the ratio holds on a noisy machine where absolute
times do not. Writes bench/results/latest.json and prints a table. Not a test: nothing is
asserted; the goals of issue 11 are printed beside the ratios.

    python -m bench.benchmarks [--model-mb 64] [--small-files 20] [--repeat 3]

--model-mb sizes the "new large folder" (one big file plus --small-files files of 1 MiB; the
issue measured 1024 MiB with 100 small files); the default keeps the run to a few minutes.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024

# Runs in a fresh interpreter: exec a compiled component's code (what the container runs) and
# call it; the first connection it opens (to the stand-in: the token, cloud metadata or ARM) is
# its first Azure request, whose wall-clock time it prints before exiting on the spot.
FIRST_REQUEST_PROBE = r"""
import json, os, sys, tempfile, time, types

def first_connect(event, args):
    if event == "socket.connect":
        print(json.dumps({"first_request_at": time.time()}), flush=True)
        os._exit(0)

mode, payload = sys.argv[1], json.loads(sys.argv[2])
sys.addaudithook(first_connect)
if mode == "bare-kfp":
    # A hand-written lightweight component: kfp's executor imports kfp first.
    from kfp import dsl  # noqa: F401
if mode.startswith("bare"):
    # The least a hand-written step does: import the SDK, build a client, make one call.
    from azure.ai.ml import MLClient
    from azure.identity import ClientSecretCredential
    credential = ClientSecretCredential(
        os.environ["AZ_TENANT_ID"], os.environ["AZ_CLIENT_ID"], os.environ["AZ_CLIENT_SECRET"],
        authority=os.environ["AZURE_AUTHORITY_HOST"], disable_instance_discovery=True)
    MLClient(credential, os.environ["AZ_SUBSCRIPTION_ID"], payload["resource_group"],
             payload["workspace_name"]).online_endpoints.get("bench-missing")
else:
    module = types.ModuleType("ephemeral_component")
    exec(compile(open(mode).read(), "ephemeral_component.py", "exec"), module.__dict__)
    kwargs = payload["kwargs"]
    for key, value in kwargs.items():
        if isinstance(value, str) and value.startswith("@"):  # an output artifact
            kwargs[key] = getattr(module, value[1:])(uri=tempfile.mkdtemp())
    getattr(module, payload["name"])(**kwargs)
print(json.dumps({"error": "finished without a request"}))
"""

IMPORT_PROBE = r"""
import json, sys, tempfile, time
from pathlib import Path
started = time.perf_counter()
import kfp  # noqa: F401 - the floor: compiling needs kfp anyway
kfp_done = time.perf_counter()
import azml_components
imported = time.perf_counter()
from tools.compile_all import compile_all
with tempfile.TemporaryDirectory() as tmp:
    compile_all(Path(tmp), pipelines_dir=Path(tmp) / "none")
compiled = time.perf_counter()
print(json.dumps({"kfp": kfp_done - started, "azml_components": imported - kfp_done,
                  "compile_all_components": compiled - imported,
                  "azure_ai_ml_imported": "azure.ai.ml" in sys.modules}))
"""


def _median(values: list) -> float:
    return round(statistics.median(values), 3)


def _side_by_side(results: dict, name: str, bare, ours, repeat: int, goal: str = "",
                  prepare=None) -> dict:
    # bare() and ours() alternate first each round; prepare(round) runs untimed before a round.
    times = {"bare_sdk": [], "ours": []}
    for round_index in range(repeat):
        if prepare is not None:
            prepare(round_index)
        order = [("bare_sdk", bare), ("ours", ours)]
        if round_index % 2:
            order.reverse()
        for side, function in order:
            started = time.perf_counter()
            function(round_index)
            times[side].append(time.perf_counter() - started)
    row = {
        "bare_sdk_s": _median(times["bare_sdk"]),
        "ours_s": _median(times["ours"]),
        "ratio": round(statistics.median(times["ours"]) / statistics.median(times["bare_sdk"]), 3),
        "runs": {k: [round(t, 3) for t in v] for k, v in times.items()},
        "goal": goal,
    }
    results["measures"][name] = row
    print(f"{name:<48} {row['bare_sdk_s']:8.2f} s {row['ours_s']:8.2f} s "
          f"{row['ratio']:7.2f}x  {goal}", flush=True)
    return row


def _write_folder(folder: Path, total_mb: int, small_files: int) -> Path:
    # Fresh random content: one big file plus small_files files of 1 MiB.
    folder.mkdir(parents=True)
    big = max(total_mb - small_files, 1)
    with open(folder / "weights.bin", "wb") as out:
        for _ in range(big):
            out.write(os.urandom(MIB))
    for index in range(small_files):
        (folder / f"shard-{index:03d}.bin").write_bytes(os.urandom(MIB))
    return folder


def _first_request_seconds(source: Path, name: str, kwargs: dict, env: dict) -> float:
    mode = name if name.startswith("bare") else str(source)
    payload = {"name": name, "kwargs": kwargs,
               "resource_group": kwargs.get("resource_group", ""),
               "workspace_name": kwargs.get("workspace_name", "")}
    started = time.time()
    done = subprocess.run([sys.executable, "-c", FIRST_REQUEST_PROBE, mode, json.dumps(payload)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=source.parent)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    report = json.loads(lines[-1]) if lines else {"error": done.stderr[-2000:]}
    if "first_request_at" not in report:
        raise RuntimeError(f"{name}: no Azure request: {report}")
    return report["first_request_at"] - started


def _install_payload(packages: list, env: dict) -> dict:
    # What `pip install` at container start fetches: wheels and their size (pip's cache serves
    # them when warm). kfp itself is installed too, with --no-deps. `env` is the environment
    # from before the stand-in (its proxy lets nothing but the blob host through).
    import kfp

    with tempfile.TemporaryDirectory() as tmp:
        runs = [[*packages], ["--no-deps", f"kfp=={kfp.__version__}"]]
        for arguments in runs:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
                 "--dest", tmp, *arguments],
                capture_output=True, text=True, timeout=600, env=env,
            )
            if done.returncode:
                return {"error": done.stderr.strip().splitlines()[-1:]}
        files = list(Path(tmp).iterdir())
        return {"wheels": len(files),
                "megabytes": round(sum(f.stat().st_size for f in files) / 1e6, 1)}


def _pip_installs_in(compiled_dir: Path) -> list:
    # The packages each compiled component's command installs (none in image mode).
    import re

    found = []
    for path in sorted(compiled_dir.glob("*.yaml")):
        command = " ".join(_compiled_command(path))
        found += re.findall(r"pip install[^&]*", command)
    return found


def _compiled_command(path: Path) -> list:
    import yaml

    spec = yaml.safe_load(path.read_text())
    (executor,) = spec["deploymentSpec"]["executors"].values()
    return executor["container"]["command"]


def main(argv=None) -> int:
    """Run every measure against a fresh stand-in; write bench/results/latest.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-mb", type=int,
                        default=int(os.environ.get("AZML_BENCH_MODEL_MB", "64")))
    parser.add_argument("--small-files", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-payload", action="store_true",
                        help="skip measuring the pip install payload (needs the package index)")
    args = parser.parse_args(argv)
    base_env = dict(os.environ)
    sys.path.insert(0, str(ROOT))
    from azml_local.fixture import start
    from azml_local.resources.compute_clusters import COMPUTE_NAME

    from azml_components import pins
    from azml_components._component import program_of
    from tests.helpers import data_payload, diabetes_rows, write_custom_model
    from tools.compile_all import compile_all

    results: dict = {"python": platform.python_version(), "cpus": os.cpu_count(),
                     "model_mb": args.model_mb, "small_files": args.small_files,
                     "repeat": args.repeat, "measures": {}, "first_request": {}}
    print(f"{'measure':<48} {'bare SDK':>10} {'ours':>10} {'ratio':>8}  goal")
    with tempfile.TemporaryDirectory(prefix="azml-bench-") as tmp:
        root = Path(tmp)
        with start(root / "state") as standin:
            os.environ.update(standin.env)
            os.environ.pop("AZUREML_CURRENT_CLOUD", None)
            os.environ["TQDM_DISABLE"] = "1"  # the SDK's upload progress bars, on both sides
            from azure.ai.ml import MLClient
            from azure.ai.ml.entities import (
                CodeConfiguration,
                Environment,
                ManagedOnlineDeployment,
                Model,
            )

            from azml_components.runtime import (
                azml_credential,
                azml_deploy_model,
                azml_invoke_endpoint,
                azml_register_model,
            )

            ws = {"subscription_id": standin.env["AZ_SUBSCRIPTION_ID"],
                  "resource_group": standin.env["AZML_LOCAL_RESOURCE_GROUP"],
                  "workspace_name": standin.env["AZML_LOCAL_WORKSPACE"]}

            def client():
                # A step builds its client once; both sides pay for it.
                return MLClient(azml_credential(), ws["subscription_id"], ws["resource_group"],
                                ws["workspace_name"])

            # 1. Register a new large folder (fresh content every round, both sides).
            folders = {}

            def fresh(round_index):
                import shutil

                for side in ("bare", "ours"):
                    if side in folders:  # the disk holds one round's folders at a time
                        shutil.rmtree(folders[side].parent)
                    folders[side] = _write_folder(root / f"big-{side}-{round_index}" / "model",
                                                  args.model_mb, args.small_files)

            _side_by_side(
                results, f"register new folder ({args.model_mb} MiB)",
                lambda i: client().models.create_or_update(
                    Model(name="bench-bare", path=str(folders["bare"]))),
                lambda i: azml_register_model(**ws, model_name="bench-ours",
                                              model_path=str(folders["ours"])),
                args.repeat, "<= 1.02x", prepare=fresh)
            # 2. The same content again: the SDK skips the blobs but registers a new version;
            # we reuse the version with no write.
            _side_by_side(
                results, "register unchanged content",
                lambda i: client().models.create_or_update(
                    Model(name="bench-bare", path=str(folders["bare"]))),
                lambda i: azml_register_model(**ws, model_name="bench-ours",
                                              model_path=str(folders["ours"])),
                args.repeat, "<= 1.05x (and no new version)")

            # 2b. Content already in the datastore, under a new name each round (issue 26): the
            # SDK skips the blobs and registers version 1; so do we, with no extra serial read.
            # Medians of 5 interleaved rounds, with each round's ratio for the spread.
            fresh_name = _side_by_side(
                results, "register stored content under a new name",
                lambda i: client().models.create_or_update(
                    Model(name=f"bench-bare-new{i}", path=str(folders["bare"]))),
                lambda i: azml_register_model(**ws, model_name=f"bench-ours-new{i}",
                                              model_path=str(folders["ours"])),
                5, "<= 1.05x")
            fresh_name["round_ratios"] = [
                round(o / b, 3) for o, b in zip(fresh_name["runs"]["ours"],
                                                fresh_name["runs"]["bare_sdk"], strict=True)]

            # 3. Deployments to an existing endpoint.
            model_dir, code_dir, _ = write_custom_model(root / "small")
            small = azml_register_model(**ws, model_name="bench-small", model_path=str(model_dir))
            options = {"code_path": str(code_dir), "scoring_script": "score.py",
                       "conda_file": "conda.yaml"}
            deploy = {**ws, "endpoint_name": "bench-ep", "model_id": small["asset_id"],
                      "options": options, "timeout_seconds": 900}
            started = time.perf_counter()
            azml_deploy_model(**deploy, deployment_name="blue")
            results["setup_first_deployment_s"] = round(time.perf_counter() - started, 3)
            import yaml

            def bare_deployment(name):
                return ManagedOnlineDeployment(
                    name=name, endpoint_name="bench-ep", model=small["asset_id"],
                    code_configuration=CodeConfiguration(code=str(code_dir),
                                                         scoring_script="score.py"),
                    environment=Environment(
                        image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
                        conda_file=yaml.safe_load((code_dir / "conda.yaml").read_text())),
                    instance_type="Standard_DS3_v2", instance_count=1)

            def cleanup(round_index):
                if round_index:
                    c = client()
                    for name in (f"bare{round_index - 1}", f"ours{round_index - 1}"):
                        c.online_deployments.begin_delete(name, "bench-ep").result()

            _side_by_side(
                results, "deploy new deployment to existing endpoint",
                lambda i: client().online_deployments.begin_create_or_update(
                    bare_deployment(f"bare{i}")).result(),
                lambda i: azml_deploy_model(**deploy, deployment_name=f"ours{i}",
                                            traffic_percent=0),
                args.repeat, "", prepare=cleanup)
            cleanup(args.repeat)
            noop = _side_by_side(
                results, "redeploy unchanged (SDK: update; ours: no-op)",
                lambda i: client().online_deployments.begin_create_or_update(
                    bare_deployment("blue")).result(),
                lambda i: azml_deploy_model(**deploy, deployment_name="blue"),
                args.repeat, "ours <= 2 s, no write")
            noop["ours_within_goal"] = noop["ours_s"] <= 2.0

            # 4. Invoke: ours against one plain https POST to the scoring URI.
            import requests

            c = client()
            endpoint = c.online_endpoints.get("bench-ep")
            key = c.online_endpoints.get_keys("bench-ep").primary_key
            body = data_payload(diabetes_rows())

            def plain_post(_):
                response = requests.post(endpoint.scoring_uri, data=body, timeout=60, headers={
                    "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
                response.raise_for_status()

            _side_by_side(
                results, "invoke (ours vs one plain https POST)", plain_post,
                lambda i: azml_invoke_endpoint(**ws, endpoint_name="bench-ep", payload=body),
                max(args.repeat, 10))

            # 5. Process start to the first Azure request, per compiled component.
            compiled = ROOT / "compiled" / "components"
            env = dict(os.environ)
            common = {"resource_group": ws["resource_group"],
                      "workspace_name": ws["workspace_name"]}
            calls = {
                "delete_deployment": {"endpoint_name": "bench-ep", "deployment_name": "nope"},
                "delete_endpoint": {"endpoint_name": "bench-nope"},
                "deploy_model": {"endpoint_name": "bench-ep", "deployment_name": "blue",
                                 "model_id": small["asset_id"], "endpoint": "@Artifact",
                                 "report": "@Markdown"},
                "invoke_endpoint": {"endpoint_name": "bench-ep", "payload": body,
                                    "response": "@Artifact"},
                "recover_rollout": {"endpoint_name": "bench-ep"},
                "register_model": {"model_name": "bench-small", "model_uri": small["path"],
                                   "registered_model": "@Model"},
                "safe_rollout": {"endpoint_name": "bench-ep", "deployment_name": "green",
                                 "model_id": small["asset_id"], "payload": body,
                                 "endpoint": "@Artifact", "report": "@Markdown"},
                "set_traffic": {"endpoint_name": "bench-ep", "traffic": {"blue": 100},
                                "endpoint": "@Artifact"},
                "deploy_batch_model": {"endpoint_name": "bench-batch", "deployment_name": "blue",
                                       "compute": COMPUTE_NAME, "model_id": small["asset_id"],
                                       "endpoint": "@Artifact", "report": "@Markdown"},
                "score_batch": {"endpoint_name": "bench-batch",
                                "input_uri": "azureml://datastores/workspaceblobstore/paths/in/",
                                "predictions": "@Dataset", "report": "@Markdown"},
            }
            sources = {}
            for name in calls:
                sources[name] = root / f"{name}.py"
                # The whole program: a large one is passed in parts (_component.program_parts).
                sources[name].write_text(program_of(_compiled_command(compiled / f"{name}.yaml")))
            # Two baselines: a bare SDK script, and the same in a hand-written KFP lightweight
            # component (which imports kfp before anything else, as every component does).
            print(f"\n{'process start -> first Azure request':<40} {'SDK':>7} "
                  f"{'SDK+kfp':>8} {'ours':>7} {'/SDK':>6} {'/SDK+kfp':>8}")
            times = {name: [] for name in ["bare", "bare-kfp", *calls]}
            for _ in range(args.repeat):
                for name in times:  # interleaved, like the rest
                    kwargs = {**common, **calls.get(name, {})}
                    times[name].append(_first_request_seconds(sources.get(name, root / name),
                                                              name, kwargs, env))
            bare, bare_kfp = (statistics.median(times[n]) for n in ("bare", "bare-kfp"))
            results["first_request"]["baselines"] = {
                "bare_sdk_s": round(bare, 3), "bare_sdk_in_kfp_component_s": round(bare_kfp, 3)}
            for name in calls:
                ours = statistics.median(times[name])
                row = {"ours_s": round(ours, 3), "ratio_vs_bare_sdk": round(ours / bare, 3),
                       "ratio_vs_bare_sdk_in_kfp_component": round(ours / bare_kfp, 3),
                       "runs": [round(t, 3) for t in times[name]]}
                results["first_request"][name] = row
                print(f"  {name:<38} {bare:6.2f}s {bare_kfp:7.2f}s {ours:6.2f}s "
                      f"{ours / bare:5.2f}x {ours / bare_kfp:7.2f}x", flush=True)

        # 6. Import and compile, in a fresh interpreter (no azure.ai.ml may be imported).
        runs = []
        for _ in range(args.repeat):
            done = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True,
                                  text=True, cwd=ROOT, timeout=300, check=True)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        imports = {key: _median([r[key] for r in runs])
                   for key in ("kfp", "azml_components", "compile_all_components")}
        imports["azure_ai_ml_imported"] = any(r["azure_ai_ml_imported"] for r in runs)
        results["import"] = imports
        print(f"\nimport kfp {imports['kfp']:.2f} s; import azml_components on top "
              f"{imports['azml_components']:.2f} s; compile every component "
              f"{imports['compile_all_components']:.2f} s; azure.ai.ml imported: "
              f"{imports['azure_ai_ml_imported']}")

        # 7. What a step installs at container start, default mode and prebuilt-image mode.
        image_dir = root / "compiled-image"
        compile_all(image_dir, pipelines_dir=root / "none", image="bench.invalid/azml:ref")
        image_installs = _pip_installs_in(image_dir / "components")
        results["install_payload"] = {
            "image_mode": {"pip_install_commands": len(image_installs), "wheels": 0
                           if not image_installs else None, "megabytes": 0.0
                           if not image_installs else None},
            "default_mode": ({"skipped": True} if args.no_payload
                             else _install_payload(pins.AZURE_PACKAGES, base_env)),
        }
        print(f"install at step start: default {results['install_payload']['default_mode']}; "
              f"image mode {results['install_payload']['image_mode']} (goal 0)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
