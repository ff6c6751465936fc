"""Deployment provisioning: fetch the model and code from Azurite, resolve the environment, and
hand them to the ServingManager (serving.py) that runs the scoring process.

The model lands where Azure ML puts it, AZUREML_MODEL_DIR =
.../azureml-models/<model name>/<version>/, holding the registered folder or file ("Specify model
to deploy for use in online endpoint": e.g. /var/azureml-app/azureml-models/<name>/1 contains
sample_m1.pkl; azureml-examples' model-1 score.py: "It is the path to the model folder
(./azureml-models/$MODEL_NAME/$VERSION)" and loads "model/sklearn_regression_model.pkl" for a
model registered from the folder `model`).
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

from azml_local.infra.lro import LroFailure
from azml_local.infra.paths import env_cache_dir, wheelhouse_dir
from azml_local.infra.state import PRIVATE
from azml_local.resources.assets import resolve_blob
from azml_local.resources.context import Context
from azml_local.serving import curated, settings

_serving_lock = threading.Lock()


def serving(ctx: Context) -> Any:
    """The ServingManager, made on first use (building it is only needed for deployments)."""
    with _serving_lock:
        if ctx.serving is None:
            try:
                from azml_local.serving.manager import ServingManager
            except ImportError as exc:
                raise LroFailure("InternalServerError", f"scoring is unavailable: {exc}") from exc
            # Scoring environments are cached across runs (building one takes minutes).
            ctx.serving = ServingManager(
                ctx.state_dir / "serving", env_cache_dir(), wheelhouse_dir()
            )
        return ctx.serving


def _asset(ctx: Context, arm_id: str, kind: str) -> dict[str, Any]:
    body = ctx.store.get(arm_id.strip())
    if body is None:
        raise LroFailure(
            "ResourceNotFound" if kind != "Model" else "ModelNotFound",
            f"{kind} '{arm_id}' could not be found.",
        )
    return body


def _model_dir(work: Path, model: dict[str, Any]) -> Path:
    # .../models/<name>/versions/<version> -> work/azureml-models/<name>/<version>
    parts = model["id"].rstrip("/").split("/")
    return work / "azureml-models" / parts[-3] / parts[-1]


def _fetch_model(ctx: Context, model: dict[str, Any], model_dir: Path) -> None:
    # Laid out as AZUREML_MODEL_DIR: a folder model `m` lands in model_dir/m/..., a single-file
    # model in model_dir/<file>.
    container, path = resolve_blob(ctx, model["properties"]["modelUri"])
    names = ctx.azurite.list(container, path)
    if names == [path]:
        ctx.azurite.download(container, path, model_dir)
    else:
        ctx.azurite.download(container, path, model_dir / path.rsplit("/", 1)[-1])
    if not any(model_dir.rglob("*")):
        raise LroFailure("ModelNotFound", f"No files under {model['properties']['modelUri']}.")


def provision(ctx: Context, deployment: dict[str, Any], key: str) -> None:
    """Blocks until the scoring process for `key` answers; LroFailure otherwise."""
    props = deployment["properties"]
    work = ctx.state_dir / "deployments" / key.replace("/", "_")
    shutil.rmtree(work, ignore_errors=True)
    code_dir = None
    if not props.get("model"):
        raise LroFailure("BadArgument", "A managed online deployment needs a model.")
    model = _asset(ctx, props["model"], "Model")
    model_dir = _model_dir(work, model)
    model_dir.mkdir(parents=True)
    _fetch_model(ctx, model, model_dir)

    script = None
    code_config = props.get("codeConfiguration") or {}
    if code_config.get("codeId"):
        code = _asset(ctx, code_config["codeId"], "Code")
        container, path = resolve_blob(ctx, code["properties"]["codeUri"])
        code_dir = work / "code"
        ctx.azurite.download(container, path, code_dir)
        script = code_config.get("scoringScript")
        if not script or not (code_dir / script).is_file():
            raise LroFailure("BadArgument", f"Scoring script '{script}' is not in the code.")

    conda_file, environment = None, None
    if props.get("environmentId"):
        conda_file, environment = _environment(ctx, props["environmentId"])
    elif script is not None:
        raise LroFailure("BadArgument", "A deployment with a scoring script needs an environment.")

    env_vars = {k: str(v) for k, v in (props.get("environmentVariables") or {}).items()}
    collector = _collector(ctx, deployment, work)
    manager = serving(ctx)
    from azml_local.serving.manager import ProvisionError

    try:
        manager.start(
            key,
            model_dir=model_dir,
            code_dir=code_dir,
            scoring_script=script,
            conda_file=conda_file,
            environment=environment,
            env_vars=env_vars,
            settings=settings.from_deployment(deployment),
            collector=collector,
        )
    except ProvisionError as exc:
        with ctx.store.lock:
            current = ctx.store.get(deployment["id"])
            if current is not None:
                current[PRIVATE]["failure_logs"] = exc.logs
                ctx.store.put(current)
        if exc.code == "ImageBuildFailure":
            raise LroFailure(
                "ImageBuildFailure",
                "Image build failed for the deployment's environment. The build log is in the "
                "deployment logs (get_logs).",
            ) from exc
        # Azure's message names a probe that gave up: "User container has crashed or
        # terminated: Liveness probe failed: HTTP probe failed with statuscode: 502"
        # (Azure/mlops-v2 issue 120; probes.py).
        reason = f": {exc.detail}" if exc.detail else ""
        raise LroFailure(
            "ResourceNotReady",
            f"User container has crashed or terminated{reason}. Please see the deployment logs "
            "(get_logs) for details.",
        ) from exc


def _collector(ctx: Context, deployment: dict[str, Any], work: Path) -> Any:
    """The deployment's data collector sidecar (data_collector.py), None without collection."""
    from azml_local.resources import data_collector as rules
    from azml_local.serving.data_collector import CollectorConfig, Sidecar

    collector = deployment["properties"].get("dataCollector")
    collections = rules.enabled(collector)
    if not collections:
        return None
    endpoint = deployment["id"].split("/onlineEndpoints/")[1].split("/")[0]
    config = CollectorConfig(
        source=deployment["id"],
        collections=collections,
        destinations=rules.destinations(ctx, endpoint, deployment["name"], collector),
        rolling_rate=collector.get("rollingRate") or "Hour",
        capture_headers=list((collector.get("requestLogging") or {}).get("captureHeaders")
                             or []),
    )
    return Sidecar(config, ctx.azurite.append, work / "mdc")


def _environment(ctx: Context, env_id: str) -> tuple[str | None, Any]:
    # (conda file, None) of a workspace environment, or (None, ScoringEnvironment) of a curated
    # one. Workspace lookups first: an environment a user registered under an AzureML- name is
    # theirs.
    from azml_local.serving.environments import ProvisionError, from_conda_file

    body = ctx.store.get(env_id.strip())
    if body is None and curated.is_curated_or_registry(env_id):
        try:
            entry, note = curated.resolve(env_id)
        except curated.UnknownEnvironment as exc:
            raise LroFailure("ResourceNotFound", str(exc)) from exc
        try:
            environment = from_conda_file(entry.conda_file())
        except ProvisionError as exc:  # the table is ours: a bad entry is a stand-in bug
            raise LroFailure("InternalServerError", exc.logs) from exc
        environment.notes.insert(0, note)
        return None, environment
    props = _asset(ctx, env_id, "Environment")["properties"]
    if props.get("condaFile"):
        return props["condaFile"], None
    if props.get("build"):
        raise LroFailure("BadArgument", f"Environment '{env_id}' is built from a Docker build "
                         "context; the stand-in cannot build or run images. Give the "
                         "environment a conda file, or use a curated environment.")
    raise LroFailure("BadArgument", f"Environment '{env_id}' is the Docker image "
                     f"'{props.get('image')}' with no conda file; the stand-in cannot run "
                     "images. Give the environment a conda file (with the image), or use a "
                     "curated environment.")
