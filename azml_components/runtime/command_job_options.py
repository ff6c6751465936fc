# run_command_job's inputs, checked before any call to Azure; each error names the field and the
# rule. The rules are Azure's for a command job (REST API spec, Microsoft.MachineLearningServices
# stable 2024-04-01, mfe.json: CommandJob, JobResourceConfiguration, PyTorch/Mpi distribution,
# JobInput/JobOutput types), so a job this accepts is one Azure accepts the shape of.
from typing import Optional

from azml_components.runtime.deployment_options import azml_resolve_environment
from azml_components.runtime.records import AzmlCommandJobOptions
from azml_components.runtime.rollout_state import azml_check_tags
from azml_components.runtime.validation import (
    azml_check_choice,
    azml_check_range,
    azml_string_map,
    azml_whole_numbers,
)


def azml_job_input_types() -> tuple:
    # JobInput types a component input may name (mfe.json JobInputType; mltable and triton are
    # left out: the job reads files, or a model folder).
    return ("uri_file", "uri_folder", "mlflow_model", "custom_model")


def azml_check_job_io_name(field: str, name: str) -> str:
    # Input and output names are what ${{inputs.NAME}} binds: the CLI (v2) command job YAML
    # schema's identifiers (a letter or '_', then letters, digits, '_').
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,254}", name):
        raise ValueError(
            f"{field}: {name!r} is not a valid input or output name; it must start with a "
            "letter or '_' and hold only letters, digits and '_'"
        )
    return name


def azml_check_job_inputs(inputs: Optional[dict]) -> dict:
    # name -> a literal (string, number, boolean) or {"type": one of azml_job_input_types,
    # "path": an azureml:// URI, azureml:NAME:VERSION, an https URL, or a local file or folder
    # (an input artifact's)}.
    import os

    checked = {}
    for name, value in (azml_whole_numbers(inputs) or {}).items():
        azml_check_job_io_name("inputs", name)
        if isinstance(value, (str, int, float, bool)):
            checked[name] = value
            continue
        if not isinstance(value, dict) or set(value) - {"type", "path"}:
            raise ValueError(
                f"inputs: {name!r} must be a literal or {{'type': ..., 'path': ...}}; got "
                f"{value!r}"
            )
        azml_check_choice(f"inputs.{name}.type", str(value.get("type", "")),
                          list(azml_job_input_types()))
        path = str(value.get("path") or "")
        if not path.startswith(("azureml:", "https://")) and not os.path.exists(path):
            raise ValueError(
                f"inputs.{name}.path: {path!r} must be an azureml:// datastore URI, "
                "azureml:NAME:VERSION (a data or model asset) or an https URL"
            )
        checked[name] = {"type": value["type"], "path": path}
    return checked


def azml_check_job_outputs(outputs: Optional[dict]) -> dict:
    # name -> output type (mfe.json JobOutputType: uri_file, uri_folder, mlflow_model,
    # custom_model), given as the type or as a job YAML writes an output, {"type": ...} (CLI
    # (v2) command job YAML schema, "Job outputs"; azureml-examples' job.yml files).
    checked = {}
    for name, kind in (outputs or {}).items():
        azml_check_job_io_name("outputs", name)
        if isinstance(kind, dict):
            if set(kind) != {"type"}:
                raise ValueError(f"outputs: {name!r} must be an output type or {{'type': ...}}; "
                                 f"got {kind!r}")
            kind = kind["type"]
        azml_check_choice(f"outputs.{name}", str(kind), list(azml_job_input_types()))
        checked[name] = str(kind)
    return checked


def azml_check_command(command: str, inputs: dict, outputs: dict) -> str:
    # A command is required and non-empty (CommandJob.command, "[Required]", minLength 1); every
    # ${{inputs.x}} / ${{outputs.y}} outside an optional $[[...]] part must name a declared
    # input or output (Azure refuses the job otherwise).
    import re

    if not isinstance(command, str) or not command.strip():
        raise ValueError("command: must not be empty")
    required = re.sub(r"\$\[\[.*?\]\]", "", command, flags=re.DOTALL)
    declared = {"inputs": inputs, "outputs": outputs}
    for kind, name in re.findall(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_]+)\s*\}\}", required):
        if name not in declared[kind]:
            raise ValueError(
                f"command: ${{{{{kind}.{name}}}}} names no {kind[:-1]} {name!r}; declare it in "
                f"{kind} (or the {'data/input_model' if kind == 'inputs' else 'outputs'} inputs)"
            )
    return command


def azml_check_distribution(distribution: Optional[dict]) -> Optional[dict]:
    # PyTorch or MPI (DistributionConfiguration, distributionType), process_count_per_instance
    # at least 1 (default 1). Azure accepts a distribution on one node ("Distributed GPU
    # training guide (SDK v2)": DistributedDataParallel for single-node and multi-node training).
    value = azml_whole_numbers(distribution) or {}
    if not value:
        return None
    unknown = set(value) - {"type", "process_count_per_instance"}
    if unknown:
        raise ValueError(f"distribution: unknown keys {sorted(unknown)}; give type and "
                         "process_count_per_instance")
    kind = azml_check_choice("distribution.type", str(value.get("type", "")).lower(),
                             ["pytorch", "mpi"])
    count = value.get("process_count_per_instance", 1)
    if not isinstance(count, int) or isinstance(count, bool):
        raise ValueError("distribution.process_count_per_instance: must be a whole number")
    azml_check_range("distribution.process_count_per_instance", count, 1)
    return {"type": kind, "process_count_per_instance": count}


def azml_check_compute_name(field: str, value: str) -> str:
    # Compute names: 3-24 characters, letters, digits and '-', starting with a letter ("Create
    # an Azure Machine Learning compute cluster", learn.microsoft.com); empty is serverless.
    import re

    if value and not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{2,23}", value):
        raise ValueError(
            f"{field}: {value!r} is not a compute name; it must be 3-24 characters, start with "
            "a letter, and contain only letters, digits and hyphens (empty: serverless)"
        )
    return value


def azml_command_job_options(
    command: str, code_path: str = "", environment: str = "", conda_file: str = "",
    image: str = "", compute: str = "", instance_type: str = "", instance_count: int = 1,
    distribution: Optional[dict] = None, environment_variables: Optional[dict] = None,
    experiment_name: str = "", display_name: str = "", description: str = "",
    tags: Optional[dict] = None, inputs: Optional[dict] = None, outputs: Optional[dict] = None,
    timeout_seconds: int = 86400,
) -> AzmlCommandJobOptions:
    # Every rule that needs no call to Azure.
    import os
    import re

    if code_path and not os.path.isdir(code_path):
        raise ValueError(f"code: {code_path!r} must be a folder (the job's working directory)")
    env = azml_resolve_environment(code_path, conda_file, image, environment)
    if not env.get("environment") and not env.get("conda_file"):
        raise ValueError("environment: give a registered or curated environment, or conda_file "
                         "(with image): a command job needs an environment")
    azml_check_compute_name("compute", compute)
    if instance_type and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", instance_type):
        raise ValueError(f"instance_type: {instance_type!r} is not an instance type name")
    azml_check_range("instance_count", instance_count, 1)
    if experiment_name and not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", experiment_name):
        raise ValueError(f"experiment_name: {experiment_name!r} must be 1-255 letters, digits, "
                         "'-' or '_'")
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    checked_inputs = azml_check_job_inputs(inputs)
    checked_outputs = azml_check_job_outputs(outputs)
    all_tags = azml_string_map("tags", tags)
    azml_check_tags("tags", all_tags)
    return AzmlCommandJobOptions(
        command=azml_check_command(command, checked_inputs, checked_outputs),
        code_path=code_path, environment=env, compute=compute, instance_type=instance_type,
        instance_count=instance_count, distribution=azml_check_distribution(distribution),
        environment_variables=azml_string_map("environment_variables", environment_variables),
        experiment_name=experiment_name, display_name=display_name, description=description,
        tags=all_tags, inputs=checked_inputs, outputs=checked_outputs,
        timeout_seconds=timeout_seconds,
    )
