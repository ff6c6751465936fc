"""Deployment provisioning: fetch the model and code from Azurite, resolve the environment, and
hand them to the ServingManager (serving.py) that runs the scoring process.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

from .assets import resolve_blob
from .context import Context
from .lro import LroFailure
from .paths import env_cache_dir, wheelhouse_dir
from .state import PRIVATE

_serving_lock = threading.Lock()


def serving(ctx: Context) -> Any:
    """The ServingManager, made on first use (building it is only needed for deployments)."""
    with _serving_lock:
        if ctx.serving is None:
            try:
                from .serving import ServingManager
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
    model_dir, code_dir = work / "model", None
    model_dir.mkdir(parents=True)
    if not props.get("model"):
        raise LroFailure("BadArgument", "A managed online deployment needs a model.")
    _fetch_model(ctx, _asset(ctx, props["model"], "Model"), model_dir)

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

    conda_file = None
    if props.get("environmentId"):
        env_id = props["environmentId"]
        if env_id.lower().startswith("azureml://registries/"):
            raise LroFailure("BadArgument", "Registry (curated) environments are not supported "
                             "by the stand-in; use an inline or workspace environment.")
        conda_file = _asset(ctx, env_id, "Environment")["properties"].get("condaFile")
    elif script is not None:
        raise LroFailure("BadArgument", "A deployment with a scoring script needs an environment.")

    env_vars = {k: str(v) for k, v in (props.get("environmentVariables") or {}).items()}
    manager = serving(ctx)
    from .serving import ProvisionError

    try:
        manager.start(
            key,
            model_dir=model_dir,
            code_dir=code_dir,
            scoring_script=script,
            conda_file=conda_file,
            env_vars=env_vars,
        )
    except ProvisionError as exc:
        with ctx.store.lock:
            current = ctx.store.get(deployment["id"])
            if current is not None:
                current[PRIVATE]["failure_logs"] = exc.logs
                ctx.store.put(current)
        raise LroFailure(
            "ResourceNotReady",
            "User container has crashed or terminated. Please see the deployment logs "
            "(get_logs) for details.",
        ) from exc
