"""The KFP 2.x backend's artifact rules, enforced while kfp.local runs a pipeline.

kfp.local hands every artifact to the next task as it is. The backend's launcher (the program
that wraps each task's container) does not: before a task's code runs it resolves a storage
bucket for every input artifact and fails the task when the URI is neither under the pipeline
root nor in a storage scheme it knows, and after the code ran it uploads each output artifact
to the URI the component left on it. So a pipeline that passes on kfp.local can fail on a
cluster at its second step. Inside ``kfp_backend_rules()`` the same checks run around every
kfp.local task and fail it with the backend's message::

    from kfp import local
    from azml_components.testing.kfp_backend import kfp_backend_rules

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root="outputs")
    with kfp_backend_rules():
        my_pipeline(...)

Read from kubeflow/pipelines at tag 2.17.0 (the rules are the same from 2.4.1 on):

- ``backend/src/v2/component/launcher_v2.go`` ``downloadArtifacts`` and
  ``fetchNonDefaultBuckets`` (inputs), ``uploadOutputArtifacts``, ``mergeRuntimeArtifacts`` and
  ``LocalPathForURI`` (outputs);
- ``backend/src/v2/objectstore/config.go`` ``ParseBucketConfigForArtifactURI`` (the accepted
  schemes) and ``Config.KeyFromURI`` (an uploaded output must be under the pipeline root);
- ``backend/src/v2/driver/resolve.go`` ``resolveInputParameter`` and launcher_v2.go
  ``addDefaultParams``: ``{{$.pipeline_job_*}}`` placeholders are filled in only when a task
  passes them as arguments; a component's default stays the literal text.

The hook wraps ``kfp.local.task_dispatcher.run_single_task_implementation`` (every container
task of a kfp.local run goes through it), for the kfp versions listed in
``TESTED_KFP_VERSIONS`` only: on any other version, or when kfp's internals differ from what
this module expects, entering the context raises ``KfpLocalChanged`` instead of checking
nothing.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BackendRuleError",
    "BackendRules",
    "KfpLocalChanged",
    "TESTED_KFP_VERSIONS",
    "artifact_uri_error",
    "input_artifact_problems",
    "kfp_backend_rules",
    "output_artifact_problems",
]

#: kfp versions whose kfp.local internals this module was checked against.
TESTED_KFP_VERSIONS = ("2.17.3",)

LOG = logging.getLogger(__name__)

# objectstore/config.go: bucketPattern and the schemes ParseBucketConfigForArtifactURI accepts.
_BUCKET_URI = re.compile(r"([a-z][a-z0-9]+:///?)([^/?]+)(/[^?]*)?(\?.+)?")
_BUCKET_SCHEMES = ("gs://", "s3://", "minio://", "mem://")
# launcher_v2.go LocalPathForURI: the schemes the launcher downloads to / uploads from a path.
_PATH_SCHEMES = ("gs://", "minio://", "s3://", "oci://")
# Modelcar images: the launcher never resolves a bucket for them (fetchNonDefaultBuckets).
_OCI = "oci://"
_PLACEHOLDER = "{{$."


class BackendRuleError(Exception):
    """A kfp.local run did something the KFP 2.x backend would refuse.

    Deliberately not a RuntimeError: a test expecting a pipeline to fail (kfp.local raises
    RuntimeError) must not pass because of a broken artifact instead.
    """


class KfpLocalChanged(RuntimeError):
    """The installed kfp's kfp.local is not the one this module's hook was written against."""


def _go_quote(text: str) -> str:
    # Go's %q, close enough for the messages (JSON escapes the same characters we meet).
    return json.dumps(text)


def artifact_uri_error(uri: str) -> str | None:
    """The error ``objectstore.ParseBucketConfigForArtifactURI`` gives for a URI, or None."""
    match = _BUCKET_URI.fullmatch(uri)
    if match is None:
        return f"parse bucket config failed: unrecognized uri format: {_go_quote(uri)}"
    if match.group(1) not in _BUCKET_SCHEMES:
        return f"parse bucket config failed: unsupported Cloud bucket: {_go_quote(uri)}"
    return None


def _bucket_key(uri: str) -> str:
    # Config.PrefixedBucket() of what ParseBucketConfigForArtifactURI returns: scheme + bucket.
    match = _BUCKET_URI.fullmatch(uri)
    return match.group(1) + match.group(2)


def _under(uri: str, root: str) -> bool:
    # strings.HasPrefix(uri, defaultBucketConfig.PrefixedBucket()): a plain prefix test, and
    # PrefixedBucket() (path.Join) carries no trailing slash.
    return uri.startswith(root.rstrip("/"))


@dataclass(frozen=True)
class _Artifact:
    uri: str
    metadata: dict


def input_artifact_problems(artifacts: dict[str, list], pipeline_root: str) -> list[str]:
    """What the launcher says about a task's input artifacts before the task's code runs.

    Args:
        artifacts: Input name -> the artifacts given for it (objects with ``uri`` and
            ``metadata``, e.g. ``dsl.Artifact``), in order.
        pipeline_root: The run's pipeline root (the backend's default bucket).

    Returns:
        The launcher's error for each input that fails the task; empty when it runs.

    """
    problems = []
    opened = set()
    # fetchNonDefaultBuckets: the first artifact of each input outside the default bucket must
    # name a bucket the launcher can open.
    for name, items in artifacts.items():
        if not items:
            continue
        uri = items[0].uri
        if uri.startswith(_OCI) or _under(uri, pipeline_root):
            continue
        error = artifact_uri_error(uri)
        if error:
            problems.append(
                "failed to fetch non default buckets: failed to parse bucketConfig for output "
                f"artifact {_go_quote(name)} with uri {_go_quote(uri)}: {error}"
            )
        else:
            opened.add(_bucket_key(uri))
    if problems:
        return problems
    # downloadArtifacts: every artifact of a list is downloaded from a bucket opened above.
    for name, items in artifacts.items():
        for artifact in items:
            uri = artifact.uri
            if (artifact.metadata or {}).get("_kfp_workspace") is True:
                continue
            if _under(uri, pipeline_root) or not uri.startswith(_PATH_SCHEMES):
                continue  # the default bucket, or no local path: skipped with a warning
            if uri.startswith(_OCI):
                continue
            error = artifact_uri_error(uri)
            if error:
                problems.append(
                    f"failed to parse bucketConfig for output artifact {_go_quote(name)} "
                    f"with uri {_go_quote(uri)}: {error}"
                )
            elif _bucket_key(uri) not in opened:
                problems.append(
                    f"failed to get bucket when downloading input artifact {name} with bucket "
                    f"key {_bucket_key(uri)}"
                )
    return problems


def output_artifact_problems(
    artifacts: dict[str, list], pipeline_root: str
) -> tuple[list[str], list[str]]:
    """What the launcher says about a finished task's output artifacts.

    The launcher copies the URI the component left on each output over the one it assigned
    (``mergeRuntimeArtifacts``), then uploads the output's files there.

    Args:
        artifacts: Output name -> the artifacts the task's executor output holds.
        pipeline_root: The run's pipeline root (the backend's default bucket).

    Returns:
        (errors that fail the task, warnings the launcher logs while the task still succeeds).

    """
    problems, warnings = [], []
    root = pipeline_root.rstrip("/")
    for name, items in artifacts.items():
        if not items:
            continue
        uri = items[0].uri  # uploadOutputArtifacts merges list.Artifacts[0]
        if _under(uri, root):
            if not uri[len(root) :].lstrip("/"):
                problems.append(
                    f"failed to upload output artifact {_go_quote(name)}: URI {_go_quote(uri)} "
                    f"has empty key given prefixed bucket {_go_quote(root)}"
                )
        elif uri.startswith(_OCI):
            continue
        elif uri.startswith(_PATH_SCHEMES):
            problems.append(
                f"failed to upload output artifact {_go_quote(name)}: URI {_go_quote(uri)} does "
                f"not have expected bucket prefix {_go_quote(root)}"
            )
        else:
            warnings.append(
                f"Output Artifact {_go_quote(name)} does not have a recognized storage URI "
                f"{_go_quote(uri)}. Skipping uploading to remote storage. (Its files are not "
                "kept, and a task that takes it as input fails: unsupported Cloud bucket.)"
            )
    return problems, warnings


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _artifacts(values: dict, names) -> dict[str, list]:
    return {
        name: [_Artifact(a.uri, dict(a.metadata or {})) for a in _as_list(values[name])]
        for name in names
        if values.get(name) is not None
    }


@dataclass
class BackendRules:
    """What ``kfp_backend_rules()`` saw: the tasks it checked and what it found."""

    #: Task names (kfp.local's, e.g. "deploy-model-2") in the order they were checked.
    checked: list[str] = field(default_factory=list)
    #: The backend's errors; each failed its task.
    violations: list[str] = field(default_factory=list)
    #: What the backend would do silently (a literal placeholder, an output not uploaded).
    warnings: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _record(self, task: str, violations: list[str], warnings: list[str]) -> None:
        with self._lock:
            self.checked.append(task)
            self.violations.extend(f"task {task}: {v}" for v in violations)
            self.warnings.extend(f"task {task}: {w}" for w in warnings)
        for warning in warnings:
            LOG.warning("KFP backend (task %s): %s", task, warning)
        for violation in violations:
            LOG.error("KFP backend would fail task %s: %s", task, violation)


def _literal_placeholders(component_spec, arguments: dict) -> list[str]:
    # launcher_v2.go addDefaultParams copies a component's defaults verbatim; only a task
    # argument equal to the placeholder is filled in (driver/resolve.go resolveInputParameter).
    found = []
    for name, spec in component_spec.input_definitions.parameters.items():
        default = spec.default_value.string_value if spec.HasField("default_value") else ""
        if _PLACEHOLDER in default and name not in arguments:
            found.append(
                f"input {name!r} is not passed by the task, so it gets the component's default "
                f"{default!r} as literal text (pass it as a task argument to have it filled in)"
            )
    return found


_EXPECTED_PARAMETERS = (
    "pipeline_resource_name", "component_name", "component_spec", "executor_spec", "arguments",
    "pipeline_root", "runner", "raise_on_error", "block_input_artifact", "unique_pipeline_id",
)  # fmt: skip


def _check_kfp_internals():
    # Fail loudly rather than check nothing when kfp.local is not what this hook expects.
    import kfp
    from kfp.local import status, task_dispatcher
    from kfp.local.orchestrator import task_executor

    if kfp.__version__ not in TESTED_KFP_VERSIONS:
        raise KfpLocalChanged(
            f"kfp_backend_rules hooks kfp.local internals checked with kfp "
            f"{', '.join(TESTED_KFP_VERSIONS)}; kfp {kfp.__version__} is installed. Re-check "
            "azml_components/testing/kfp_backend.py against it and add the version."
        )
    target = task_dispatcher.run_single_task_implementation
    parameters = tuple(inspect.signature(target).parameters)
    call_sites = {
        "kfp.local.orchestrator.task_executor.execute_single_task": (
            task_executor.execute_single_task,
            "task_dispatcher.run_single_task_implementation(",
        ),
        "kfp.local.task_dispatcher.run_single_task": (
            task_dispatcher.run_single_task,
            "= run_single_task_implementation(",
        ),
    }
    missing = [
        where for where, (function, call) in call_sites.items()
        if call not in inspect.getsource(function)
    ]  # fmt: skip
    if parameters != _EXPECTED_PARAMETERS or missing or not hasattr(status.Status, "FAILURE"):
        raise KfpLocalChanged(
            "kfp.local's task dispatch changed (run_single_task_implementation parameters "
            f"{parameters}, call sites not found: {missing}); kfp_backend_rules cannot hook it"
        )
    return task_dispatcher, target, status.Status


# The rules in force; a nested kfp_backend_rules() shares them (the outermost one hooks kfp).
_ACTIVE: list[BackendRules] = []
_ACTIVE_LOCK = threading.Lock()


@contextlib.contextmanager
def kfp_backend_rules() -> Iterator[BackendRules]:
    """Check every kfp.local task against the KFP 2.x launcher's artifact rules.

    Before a task runs, each input artifact's URI must be under the pipeline root or in a
    bucket scheme the launcher opens (gs://, s3://, minio://, mem://; oci:// is not resolved);
    otherwise the task fails with the launcher's message (e.g. "unsupported Cloud bucket")
    without running. After it ran, an output artifact whose URI the component moved to another
    bucket fails the task as the launcher's upload would; one moved to any other scheme is
    recorded as a warning (the launcher skips its upload), and so is a ``{{$.pipeline_job_*}}``
    default the task did not pass (the backend would hand it over as literal text). Nested
    blocks share the outermost block's ``BackendRules``.

    Yields:
        A ``BackendRules`` listing the tasks checked, the violations and the warnings.

    Raises:
        BackendRuleError: At the end of the block when any task broke a rule (chained to
            kfp.local's own error when the run raised one).
        KfpLocalChanged: On entry, when the installed kfp is not one this hook was checked
            against.

    """
    task_dispatcher, original, task_status = _check_kfp_internals()
    with _ACTIVE_LOCK:
        outermost = not _ACTIVE
        if outermost:
            _ACTIVE.append(BackendRules())
            task_dispatcher.run_single_task_implementation = _checking(
                original, _ACTIVE[0], task_status
            )
        rules = _ACTIVE[0]
        seen = len(rules.violations)
    try:
        yield rules
    except Exception as error:
        if len(rules.violations) > seen and not isinstance(error, BackendRuleError):
            raise BackendRuleError("\n".join(rules.violations[seen:])) from error
        raise
    finally:
        if outermost:
            with _ACTIVE_LOCK:
                task_dispatcher.run_single_task_implementation = original
                _ACTIVE.clear()
    if len(rules.violations) > seen:
        raise BackendRuleError("\n".join(rules.violations[seen:]))


def _checking(original, rules: BackendRules, task_status):
    # run_single_task_implementation with the launcher's checks before and after the task.
    signature = inspect.signature(original)

    def fail(task: str, violations: list[str], raise_on_error: bool):
        if raise_on_error:  # a single component run: kfp.local raises on failure there too
            raise BackendRuleError(f"task {task}: " + "; ".join(violations))
        return {}, task_status.FAILURE

    @functools.wraps(original)
    def checked_task(*args, **kwargs):
        call = signature.bind(*args, **kwargs).arguments
        spec, root = call["component_spec"], call["pipeline_root"]
        task = call["component_name"].removeprefix("comp-")
        arguments = call["arguments"]
        violations = input_artifact_problems(
            _artifacts(arguments, spec.input_definitions.artifacts), root
        )
        warnings = _literal_placeholders(spec, arguments)
        if violations:
            rules._record(task, violations, warnings)
            return fail(task, violations, call["raise_on_error"])
        outputs, result = original(*args, **kwargs)
        if result == task_status.SUCCESS:
            produced = _artifacts(outputs, spec.output_definitions.artifacts)
            violations, skipped = output_artifact_problems(produced, root)
            warnings += skipped
        rules._record(task, violations, warnings)
        if violations:
            return fail(task, violations, call["raise_on_error"])
        return outputs, result

    return checked_task
