"""Checks over a compiled pipeline (IR YAML) for what only a KFP cluster would show.

``compiled_pipeline_problems("pipeline.yaml")`` lists, for every Azure-facing task (one whose
container installs azure-ai-ml):

- the ``azcreds`` secret mapped to the four ``AZ_*`` variables, with no field a supported
  backend refuses: KFP 2.14 parses each task's Kubernetes config strictly
  (backend/src/v2/compiler/argocompiler/container.go, ``containerExecutorTask``) with a proto
  whose SecretAsEnv has no ``optional`` (kubernetes_platform/proto at tag 2.14.0; added in
  2.15.0);
- caching off: with ``enableCache`` the driver looks the task's inputs up in the cache and, on
  a hit, never starts the container (backend/src/v2/driver/container.go, ``Container``);

and, for every task, that ``{{$.pipeline_job_*}}`` placeholders are passed as task arguments:
the driver fills one in only when a task argument is exactly that text
(backend/src/v2/driver/resolve.go, ``resolveInputParameter``, from KFP 2.5.0); a component's
default stays literal (component/launcher_v2.go, ``addDefaultParams``), and so does a pipeline
input's (compiler/argocompiler/argo.go, ``Compile``, copies defaults into the run's parameters).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import yaml

from azml_components.pins import CREDENTIAL_ENV_VARS

__all__ = ["RESOLVED_PLACEHOLDERS", "compiled_pipeline_problems"]

#: Task-argument texts the driver replaces (driver/resolve.go, resolveInputParameter).
RESOLVED_PLACEHOLDERS = frozenset({
    "{{$.pipeline_job_name}}",
    "{{$.pipeline_job_resource_name}}",
    "{{$.pipeline_job_uuid}}",
    "{{$.pipeline_task_name}}",
    "{{$.pipeline_task_uuid}}",
    "{{$.pipeline_job_create_time_utc}}",
    "{{$.pipeline_job_schedule_time_utc}}",
})  # fmt: skip
# Replaced wherever it occurs in the text (same function).
_WORKSPACE_PATH = "{{$.workspace_path}}"
_PLACEHOLDER = "{{$."
# SecretAsEnv fields that backends 2.5.0 to 2.14.x know (kubernetes_executor_config.proto).
_SECRET_AS_ENV_FIELDS = {"secretName", "keyToEnv", "secretNameParameter"}


def _documents(pipeline: str | Path | list) -> list[dict]:
    if isinstance(pipeline, list):
        return pipeline
    return list(yaml.safe_load_all(Path(pipeline).read_text()))


def _azure_facing(executor: dict) -> bool:
    container = executor.get("container", {})
    return any("azure-ai-ml" in part for part in container.get("command", []))


def _literal(value: str) -> bool:
    # True when the driver would hand this text over unchanged although it holds a placeholder.
    if _PLACEHOLDER not in value or _WORKSPACE_PATH in value:
        return False
    return value not in RESOLVED_PLACEHOLDERS


def _secret_problems(task: str, config: dict, secret_name, oldest: tuple) -> list[str]:
    names = {secret_name} if isinstance(secret_name, str) else set(secret_name)
    entries = config.get("secretAsEnv", [])
    mapped = {(m.get("secretKey"), m.get("envVar")) for e in entries for m in e.get("keyToEnv", [])}
    wanted = {(key, key) for key in CREDENTIAL_ENV_VARS}
    problems = []
    if not wanted <= mapped:
        problems.append(
            f"task {task}: the secret must map {sorted(CREDENTIAL_ENV_VARS)} to variables of the "
            f"same names (use_azure_credentials); it maps {sorted(mapped)}"
        )
    for entry in entries:
        parameter = entry.get("secretNameParameter", {})
        name = parameter.get("runtimeValue", {}).get("constant", entry.get("secretName"))
        if "componentInputParameter" not in parameter and name not in names:
            expected = " or ".join(repr(n) for n in sorted(names))
            problems.append(f"task {task}: secret {name!r}, expected {expected}")
        unknown = set(entry) - _SECRET_AS_ENV_FIELDS
        if unknown and oldest < (2, 15):
            problems.append(
                f"task {task}: secretAsEnv field(s) {sorted(unknown)} are unknown to KFP backends "
                "before 2.15 (2.14 refuses the run: unknown field); use_azure_credentials leaves "
                "`optional` out unless optional=True"
            )
    return problems


def compiled_pipeline_problems(
    pipeline: str | Path | list,
    secret_name: str | Collection[str] = "azcreds",
    cacheable: Collection[str] = (),
    oldest_backend: tuple[int, int] = (2, 5),
) -> list[str]:
    """List what would go wrong with a compiled pipeline on a KFP 2.x cluster.

    Args:
        pipeline: Path of the compiled YAML, or its documents (pipeline spec, platform spec).
        secret_name: The Kubernetes secret every Azure-facing task must read, or the secrets
            one of which each must read (a pipeline with one credential per environment).
        cacheable: Task names (as in the YAML, e.g. "register-model") allowed to keep caching.
        oldest_backend: The oldest KFP backend (major, minor) the pipeline must run on.

    Returns:
        One line per problem, naming the task; empty when there is none.

    """
    docs = _documents(pipeline)
    spec = docs[0]
    executors = spec["deploymentSpec"]["executors"]
    configs = {}
    if len(docs) > 1:
        platform = docs[1].get("platforms", {}).get("kubernetes", {})
        configs = platform.get("deploymentSpec", {}).get("executors", {})
    components = dict(spec["components"], **{"<root>": spec["root"]})
    problems = []
    for name, default in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items():
        # Copied verbatim into the run's parameters (argocompiler/argo.go, Compile), and a task
        # reading a pipeline input gets that value as it is.
        if _PLACEHOLDER in str(default.get("defaultValue", "")):
            problems.append(
                f"pipeline input {name}: default {default['defaultValue']!r} stays literal text"
            )
    for component in components.values():
        for task, task_spec in component.get("dag", {}).get("tasks", {}).items():
            used = components[task_spec["componentRef"]["name"]]
            passed = task_spec.get("inputs", {}).get("parameters", {})
            for name, argument in passed.items():
                constant = argument.get("runtimeValue", {}).get("constant")
                if isinstance(constant, str) and _literal(constant):
                    problems.append(
                        f"task {task}: argument {name}={constant!r} stays literal text (only an "
                        f"argument that is exactly one of {sorted(RESOLVED_PLACEHOLDERS)} is "
                        "filled in)"
                    )
            defined = used.get("inputDefinitions", {}).get("parameters", {})
            for name, definition in defined.items():
                default = definition.get("defaultValue")
                if isinstance(default, str) and _PLACEHOLDER in default and name not in passed:
                    problems.append(
                        f"task {task}: input {name} is not passed, so the component's default "
                        f"{default!r} arrives as literal text; pass it as a task argument"
                    )
            executor = executors.get(used.get("executorLabel", ""))
            if executor is None or not _azure_facing(executor):
                continue
            if task_spec.get("cachingOptions", {}).get("enableCache") and task not in cacheable:
                problems.append(
                    f"task {task}: enableCache is on; a cache hit would skip the Azure step "
                    "(use_azure_credentials turns it off)"
                )
            problems += _secret_problems(
                task, configs.get(used["executorLabel"], {}), secret_name, oldest_backend
            )
    return problems
