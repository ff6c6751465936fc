# Batch endpoints: deploy a model for batch scoring (deploy_batch_model) and score a dataset
# with a batch job (score_batch). Every input is checked before the first write to Azure: the
# rules that need no call first, then what the inputs name in the workspace (reads only).
from typing import Optional

from azml_components.runtime.azure_client import azml_ml_client, azml_subscription_id
from azml_components.runtime.batch_inputs import azml_data_asset_kind, azml_upload_once
from azml_components.runtime.batch_jobs import (
    azml_batch_job_identity,
    azml_find_batch_job,
    azml_kfp_value,
)
from azml_components.runtime.batch_overrides import (
    azml_batch_job_overrides,
    azml_check_output_path,
    azml_override_kwargs,
)
from azml_components.runtime.calls import (
    azml_best_effort,
    azml_call,
    azml_enum_text,
    azml_forget_invoke_headers,
    azml_get_or_none,
    azml_wait,
    azml_when_idle,
)
from azml_components.runtime.deploy import azml_check_registered_environment
from azml_components.runtime.deployment_options import (
    azml_check_code,
    azml_resolve_environment,
)
from azml_components.runtime.deployment_writes import (
    azml_read_deployment_back,
    azml_write_deployment,
)
from azml_components.runtime.links import azml_studio_url
from azml_components.runtime.lookups import azml_datastore_contents, azml_read_registered_model
from azml_components.runtime.records import AzmlBatchJobOverrides
from azml_components.runtime.register import azml_datastore_path
from azml_components.runtime.rollout_state import azml_check_tags
from azml_components.runtime.validation import (
    azml_check_asset_name,
    azml_check_asset_version,
    azml_check_choice,
    azml_check_file_name,
    azml_check_model_id,
    azml_check_online_name,
    azml_check_range,
    azml_string_map,
)


def azml_batch_options(
    compute: str,
    code_path: str = "",
    scoring_script: str = "score.py",
    conda_file: str = "",
    image: str = "",
    environment: str = "",
    mini_batch_size: int = 10,
    instance_count: int = 1,
    max_concurrency_per_instance: int = 1,
    output_action: str = "append_row",
    output_file_name: str = "",
    max_retries: int = 3,
    retry_timeout_seconds: int = 30,
    error_threshold: int = -1,
    logging_level: str = "info",
    environment_variables: Optional[dict] = None,
    description: str = "",
    tags: Optional[dict] = None,
    environment_name: str = "",
    environment_version: str = "",
) -> dict:
    # The batch deployment's settings, checked as the REST API spec states them
    # (BatchDeploymentProperties: errorThreshold in [-1, int.MaxValue], outputAction AppendRow
    # or SummaryOnly, loggingLevel Debug/Info/Warning, miniBatchSize files per mini-batch).
    import re

    if not isinstance(compute, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{1,31}", compute):
        raise ValueError(
            f"compute: {compute!r} must name a compute cluster of the workspace (2-32 "
            "characters: a letter, then letters, digits or hyphens)"
        )
    azml_check_range("mini_batch_size", mini_batch_size, 1)
    azml_check_range("instance_count", instance_count, 1)
    azml_check_range("max_concurrency_per_instance", max_concurrency_per_instance, 1)
    azml_check_range("max_retries", max_retries, 0)
    azml_check_range("retry_timeout_seconds", retry_timeout_seconds, 1)
    azml_check_range("error_threshold", error_threshold, -1)
    azml_check_choice("output_action", output_action, ["append_row", "summary_only"])
    azml_check_choice("logging_level", logging_level, ["debug", "info", "warning"])
    output_file_name = azml_batch_output_file(output_action, output_file_name)
    variables = azml_string_map("environment_variables", environment_variables)
    if not isinstance(description, str):
        raise ValueError(f"description: {description!r} must be text")
    tags = azml_string_map("tags", tags)
    azml_check_tags("tags", tags)
    scoring_script = scoring_script if code_path else ""
    azml_check_code(code_path, scoring_script)
    env = azml_resolve_environment(code_path, conda_file, image, environment)
    env.update(azml_environment_name(environment_name, environment_version, env))
    if bool(code_path) != bool(env.get("environment") or env.get("conda_file")):
        raise ValueError(
            "code / conda_file / environment: a scoring script needs an environment and an "
            "environment needs a scoring script; give both for a custom model, neither for an "
            "MLflow model"
        )
    return {
        "compute": compute,
        "code_path": code_path,
        "scoring_script": scoring_script,
        "environment": env,
        "mini_batch_size": mini_batch_size,
        "instance_count": instance_count,
        "max_concurrency_per_instance": max_concurrency_per_instance,
        "output_action": output_action,
        "output_file_name": output_file_name,
        "max_retries": max_retries,
        "retry_timeout_seconds": retry_timeout_seconds,
        "error_threshold": error_threshold,
        "logging_level": logging_level,
        "environment_variables": variables,
        "description": description,
        "tags": tags,
    }


def azml_batch_output_file(output_action: str, output_file_name: str) -> str:
    # The append_row file's name: empty means the REST API spec's default, predictions.csv
    # (BatchDeploymentProperties.outputFileName, "Customized output file name for append_row
    # output action"). summary_only writes no such file, and azure-ai-ml refuses a name with it
    # ("When output_action is set to summary_only, the output_file_name need not to be
    # specified.", 1.35 BatchDeployment._validate_output_action): "" for summary_only.
    if output_action == "summary_only":
        if output_file_name:
            raise ValueError(
                f"output_file_name: {output_file_name!r} is only for output_action append_row; "
                "leave it empty with summary_only (the scoring script writes its own files to "
                "AZUREML_BI_OUTPUT_PATH)"
            )
        return ""
    return azml_check_file_name("output_file_name", output_file_name or "predictions.csv")


def azml_environment_name(environment_name: str, environment_version: str, env: dict) -> dict:
    # The name (and version) the conda environment is registered under, as the environment
    # block of a batch deployment YAML names it (azureml-examples custom-outputs-parquet:
    # `environment: {name, image, conda_file}`); asset name and version rules as for models.
    # Without a version azure-ai-ml registers it as the latest version, or the next one when
    # the latest holds other content (EnvironmentOperations.create_or_update).
    if not environment_name:
        if environment_version:
            raise ValueError("environment_version: needs environment_name")
        return {}
    azml_check_asset_name("environment_name", environment_name)
    if environment_version:
        azml_check_asset_version("environment_version", environment_version)
    if not env.get("conda_file"):
        raise ValueError(
            "environment_name: names the environment built from conda_file; give conda_file "
            "(a registered environment is named by environment as azureml:NAME:VERSION)"
        )
    return {"name": environment_name, "version": environment_version}


def azml_batch_deployment_entity(
    endpoint_name: str, deployment_name: str, model_id: str, options: dict
):
    # The ModelBatchDeployment to create or update.
    from azure.ai.ml.entities import (
        BatchRetrySettings,
        CodeConfiguration,
        Environment,
        ModelBatchDeployment,
        ModelBatchDeploymentSettings,
    )

    kwargs = {}
    if options["code_path"]:
        kwargs["code_configuration"] = CodeConfiguration(
            code=options["code_path"], scoring_script=options["scoring_script"]
        )
    environment = options["environment"]
    if environment.get("environment"):
        kwargs["environment"] = environment["environment"]
    elif environment.get("conda_file"):
        kwargs["environment"] = Environment(
            image=environment.get("image"), conda_file=environment["conda_file"],
            name=environment.get("name") or None, version=environment.get("version") or None,
        )
    settings = ModelBatchDeploymentSettings(
        mini_batch_size=options["mini_batch_size"],
        instance_count=options["instance_count"],
        max_concurrency_per_instance=options["max_concurrency_per_instance"],
        output_action=options["output_action"],
        output_file_name=options["output_file_name"] or None,  # none with summary_only
        retry_settings=BatchRetrySettings(
            max_retries=options["max_retries"], timeout=options["retry_timeout_seconds"]
        ),
        error_threshold=options["error_threshold"],
        logging_level=options["logging_level"],
        environment_variables=options["environment_variables"] or None,
    )
    return ModelBatchDeployment(
        name=deployment_name,
        endpoint_name=endpoint_name,
        model=model_id,
        compute=options["compute"],
        settings=settings,
        description=options["description"] or None,
        tags=options["tags"] or None,
        **kwargs,
    )


def azml_make_batch_default(
    client, endpoint_name: str, deployment_name: str, timeout_seconds: int
) -> None:
    # Make the deployment the batch endpoint's default. An operation running on the endpoint is
    # waited out (azml_when_idle); each attempt reads the endpoint afresh, so the PUT never
    # writes back what that operation changed.
    def write():
        endpoint = client.batch_endpoints.get(endpoint_name)
        if endpoint.defaults.deployment_name == deployment_name:
            return endpoint
        endpoint.defaults.deployment_name = deployment_name
        return client.batch_endpoints.begin_create_or_update(endpoint).result()

    azml_when_idle(
        f"making {deployment_name!r} the default of batch endpoint {endpoint_name!r}",
        lambda: client.batch_endpoints.get(endpoint_name),
        write,
        timeout_seconds,
    )


def azml_check_batch_inputs(
    endpoint_name: str,
    deployment_name: str,
    model_id: str,
    options: dict,
    set_default: bool,
    timeout_seconds: int,
    lineage: Optional[dict] = None,
) -> dict:
    # deploy_batch_model's input rules, no call to Azure; returns the checked options
    # (azml_batch_options), their tags with the lineage added (as register_model adds it to the
    # model's: last, so a run can always be traced; a placeholder KFP did not fill in is none).
    azml_check_online_name("endpoint_name", endpoint_name)
    azml_check_online_name("deployment_name", deployment_name)
    azml_check_model_id(model_id)
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    if not isinstance(set_default, bool):
        raise ValueError(f"set_default: {set_default!r} must be true or false")
    checked = azml_batch_options(**options)
    found = {k: str(v) for k, v in (lineage or {}).items() if v and not str(v).startswith("{{$")}
    checked["tags"] = {**checked["tags"], **found}
    azml_check_tags("tags", checked["tags"])
    return checked


def azml_check_batch_compute(client, compute: str, instance_count: int) -> None:
    # The compute must be a compute cluster (AmlCompute) of the workspace, as deploy_batch_model
    # promises (its compute input; the SDK's type for it is "amlcompute"), with room for
    # instance_count nodes: a cluster scales to scaleSettings.maxNodeCount (the SDK's
    # max_instances; REST API spec, AmlCompute ScaleSettings). Azure would refuse either only at
    # the deployment's PUT, after the endpoint was created.
    cluster = azml_get_or_none(f"reading compute {compute!r}", client.compute.get, compute)
    if cluster is None:
        raise ValueError(
            f"compute: {compute!r} is not a compute of this workspace; a batch deployment runs "
            "on an existing compute cluster (AmlCompute)"
        )
    kind = str(getattr(cluster, "type", "") or "")
    if kind.lower() != "amlcompute":
        raise ValueError(
            f"compute: {compute!r} is a {kind or 'different'} compute; batch deployments run on "
            "a compute cluster (AmlCompute)"
        )
    nodes = getattr(cluster, "max_instances", None)
    if isinstance(nodes, int) and instance_count > nodes:
        raise ValueError(
            f"instance_count: {instance_count} must be at most {nodes}, the nodes compute "
            f"{compute!r} scales to (its max_instances)"
        )


def azml_check_batch_workspace(client, model_id: str, options: dict) -> None:
    # Reads only, before the first write: the compute, the model and a registered environment
    # must exist.
    azml_check_batch_compute(client, options["compute"], options["instance_count"])
    azml_read_registered_model(client, model_id)
    environment = options["environment"].get("environment")
    if environment:
        azml_check_registered_environment(client, environment)
    azml_check_named_environment(client, options["environment"])


def azml_check_named_environment(client, env: dict) -> None:
    # An environment version given by name and version that exists must hold this content:
    # versions are immutable, and the SDK registers it only after the endpoint was created.
    name, version = env.get("name"), env.get("version")
    if not (name and version):
        return
    found = azml_get_or_none(
        f"reading environment {name}:{version}",
        lambda: client.environments.get(name, version=version),
        client=client,
    )
    if found is not None and (found.image != env.get("image")
                              or found.conda_file != env.get("conda_file")):
        raise ValueError(
            f"environment_version: environment {name}:{version} exists with another image or "
            "conda file; versions are immutable, give a new version (or none: the next one)"
        )


def azml_read_batch_state(client, endpoint_name: str, deployment_name: str) -> tuple:
    # Reads only: (the batch endpoint or None when it is new, the deployment or None when it is
    # new).
    endpoint = azml_get_or_none(
        f"reading batch endpoint {endpoint_name!r}", client.batch_endpoints.get, endpoint_name
    )
    existing = None
    if endpoint is not None:
        existing = azml_get_or_none(
            f"reading batch deployment {deployment_name!r}",
            client.batch_deployments.get,
            deployment_name,
            endpoint_name,
        )
    return endpoint, existing


def azml_write_batch_deployment(
    client,
    endpoint_name: str,
    deployment,
    create_endpoint: bool,
    new_deployment: bool,
    set_default: bool,
    timeout_seconds: int,
) -> None:
    # The endpoint (when new), the deployment, then the default: undone after a failure as
    # azml_write_deployment says.
    from azure.ai.ml.entities import BatchEndpoint

    deployment_name = deployment.name
    new_endpoint = (
        BatchEndpoint(name=endpoint_name, tags={"created_by": "azml-components"})
        if create_endpoint else None
    )
    azml_write_deployment(
        client.batch_endpoints,
        client.batch_deployments,
        endpoint_name,
        deployment,
        new_endpoint,
        new_deployment,
        timeout_seconds,
        kind="batch",
        # Inside the undo: a new deployment that cannot be made the default is deleted.
        then=(
            lambda: azml_make_batch_default(client, endpoint_name, deployment_name,
                                            timeout_seconds)
        ) if set_default else None,
    )


def azml_batch_deployment_result(
    endpoint, created, model_id: str, options: dict, created_endpoint: bool,
    subscription: str, resource_group: str, workspace_name: str,
) -> dict:
    # What deploy_batch_model's outputs carry, from the endpoint and deployment read back.
    return {
        "endpoint_name": endpoint.name,
        "deployment_name": created.name,
        "invocation_uri": endpoint.scoring_uri,
        "default_deployment": endpoint.defaults.deployment_name or "",
        "endpoint_id": endpoint.id,
        "deployment_id": created.id,
        "model_id": model_id,
        "compute": options["compute"],
        "output_action": options["output_action"],
        "output_file_name": options["output_file_name"],
        "description": created.description or "",
        "tags": dict(created.tags or {}),
        "environment_id": str(getattr(created, "environment", "") or ""),
        "created_endpoint": created_endpoint,
        "studio_url": azml_studio_url(
            subscription, resource_group, workspace_name, "batch_endpoint", endpoint.name
        ),
    }


def azml_deploy_batch_model(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    deployment_name: str,
    model_id: str,
    options: dict,
    set_default: bool = True,
    timeout_seconds: int = 3600,
    client=None,
    lineage: Optional[dict] = None,
) -> dict:
    # Create the batch endpoint if missing, create or update the model deployment, and make it
    # the endpoint's default when asked. A failed new deployment, and an endpoint this call
    # created, are deleted; an operation a crashed or cancelled run left running is waited out
    # (azml_write_deployment). Nothing is written before the inputs are checked, including what
    # they name in the workspace (compute, model, environment: azml_check_batch_workspace).
    # options: the keyword arguments of azml_batch_options; lineage: tags naming the KFP run.
    options = azml_check_batch_inputs(
        endpoint_name, deployment_name, model_id, options, set_default, timeout_seconds, lineage
    )
    deployment = azml_batch_deployment_entity(endpoint_name, deployment_name, model_id, options)
    subscription = azml_subscription_id(subscription_id)
    if client is None:  # else the run's one MLClient, made by the component
        client = azml_ml_client(subscription, resource_group, workspace_name)
    azml_check_batch_workspace(client, model_id, options)
    endpoint, existing = azml_read_batch_state(client, endpoint_name, deployment_name)
    created_endpoint = endpoint is None
    azml_write_batch_deployment(
        client, endpoint_name, deployment, created_endpoint, existing is None, set_default,
        timeout_seconds,
    )
    endpoint, created = azml_read_deployment_back(
        client.batch_endpoints, client.batch_deployments, endpoint_name, deployment_name, "batch"
    )
    return azml_batch_deployment_result(
        endpoint, created, model_id, options, created_endpoint, subscription, resource_group,
        workspace_name,
    )


def azml_batch_job_error(client, job_name: str) -> str:
    # The job's error as Azure reports it: jobs.stream raises it (JobException) for a failed
    # job, after printing the run's summary and log lines, which are kept as the excerpt.
    import contextlib
    import io

    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            client.jobs.stream(job_name)
    except Exception as error:  # noqa: BLE001 - the error is what we came for
        message = " ".join(str(error).split())
    else:
        message = "no error reported"
    lines = [line for line in printed.getvalue().splitlines() if line.strip()]
    return message + ("\nlog excerpt:\n" + "\n".join(lines[-20:]) if lines else "")


def azml_wait_for_job(client, job_name: str, timeout_seconds: int, poll_seconds: float = 2.0):
    # Poll the job until it ends; the deadline and SIGTERM (the pipeline run was cancelled)
    # cancel the Azure job before the task fails, so nothing keeps scoring for nobody.
    import time

    def poll():
        while True:
            job = client.jobs.get(job_name)
            status = azml_enum_text(job.status)
            if status in ("Completed", "Failed", "Canceled", "NotResponding"):
                return job
            time.sleep(poll_seconds)

    try:
        return azml_wait(f"waiting for batch job {job_name!r}", poll, timeout_seconds)
    except (InterruptedError, TimeoutError) as error:
        note = azml_best_effort(
            f"cancelling batch job {job_name!r}",
            lambda: client.jobs.begin_cancel(job_name).result(),
            60,
        )
        raise type(error)(f"{error}\n{note}") from error


def azml_check_score_inputs(
    endpoint_name: str, deployment_name: str, input_path: str, input_uri: str,
    timeout_seconds: int, pipeline_run_id: str = "", pipeline_task_name: str = "",
) -> None:
    # score_batch's input rules, no call to Azure. The fields are named as the component names
    # them: input_path is its dataset.
    import os

    azml_check_online_name("endpoint_name", endpoint_name)
    azml_kfp_value("pipeline_run_id", pipeline_run_id, 128)
    azml_kfp_value("pipeline_task_name", pipeline_task_name, 256)
    if deployment_name:
        azml_check_online_name("deployment_name", deployment_name)
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    if bool(input_path) == bool(input_uri):
        raise ValueError("dataset / input_uri: give exactly one")
    if input_path and not os.path.exists(input_path):
        raise ValueError(f"dataset: {input_path!r} does not exist")
    if input_path and os.path.isdir(input_path) and not any(
        files for _, _, files in os.walk(input_path)
    ):
        # The job would start and fail on an input with nothing to score.
        raise ValueError(f"dataset: the folder {input_path!r} has no files to score")
    if input_uri and not input_uri.startswith(("azureml://", "azureml:", "https://")):
        raise ValueError(
            f"input_uri: {input_uri!r} must be an azureml:// datastore path, "
            "azureml:NAME:VERSION (a data asset) or an https URL"
        )


def azml_prepare_output_dir(output_dir: str) -> None:
    # The folder the predictions are downloaded into (the component's predictions output), made
    # before the job starts: a path that is a file, or under one, would fail only after the
    # whole job ran.
    import os

    if os.path.isfile(output_dir):
        raise ValueError(
            f"predictions: {output_dir!r} is an existing file; the predictions go into a folder"
        )
    try:
        os.makedirs(output_dir, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"predictions: {output_dir!r} cannot be made a folder ({error.strerror or error})"
        ) from error


def azml_check_batch_input_exists(client, input_uri: str) -> str:
    # An azureml:// datastore path of this workspace must hold files: Azure starts the job
    # anyway and fails it later, when the job reads its input. Returns the input's type as the
    # datastore shows it: "uri_file" (a file at the path; a path ending in '/' asks for a
    # folder), "uri_folder" (files under it), "" when not looked into. Reads only. A data asset
    # (azureml:NAME:VERSION) must exist and its type is the input's (azml_data_asset_kind);
    # https URLs are not looked into.
    located = azml_datastore_path(
        input_uri, client.subscription_id, client.resource_group_name, client.workspace_name
    )
    if located is None:
        return azml_data_asset_kind(client, input_uri)
    datastore, path = located
    found = azml_datastore_contents(client, datastore, path, input_uri)
    if found is None:
        return ""
    is_file, is_folder = found
    is_file = is_file and not input_uri.endswith("/")
    if not (is_file or is_folder):
        raise ValueError(
            f"input_uri: {input_uri!r} does not exist (no file at or under {path!r} in "
            f"datastore {datastore!r})"
        )
    return "uri_file" if is_file else "uri_folder"


def azml_batch_input(input_path: str, input_uri: str, kind: str = ""):
    # The job's input: a file (uri_file) or a folder (uri_folder). A uri_file input must name a
    # file and a uri_folder input a folder (Azure ML's data types, concept-data), so the type is
    # what is there: the local path, or `kind` as the datastore showed it; else (a data asset, an
    # https URL) a URI names a file when its last part has a '.' and no trailing '/'.
    import os

    from azure.ai.ml import Input

    path = input_path or input_uri
    if input_path:
        is_file = os.path.isfile(path)
    elif kind:
        is_file = kind == "uri_file"
    else:
        is_file = not path.endswith("/") and "." in path.rsplit("/", 1)[-1]
    return Input(type="uri_file" if is_file else "uri_folder", path=path)


def azml_batch_deployment_to_run(client, endpoint_name: str, deployment_name: str):
    # (name, deployment) of the deployment a job runs: deployment_name, or the endpoint's
    # default. Reads only.
    endpoint = azml_call(
        f"reading batch endpoint {endpoint_name!r}", client.batch_endpoints.get, endpoint_name
    )
    # Named on every call: azure-ai-ml 1.35 keeps a deployment header of an earlier invoke in
    # the process (a module-level dict), so "the default" is resolved here.
    deployment_name = deployment_name or endpoint.defaults.deployment_name or ""
    if not deployment_name:
        raise RuntimeError(
            f"batch endpoint {endpoint_name!r} has no default deployment; give deployment_name"
        )
    deployment = azml_call(
        f"reading batch deployment {deployment_name!r}",
        client.batch_deployments.get,
        deployment_name,
        endpoint_name,
    )
    return deployment_name, deployment


def azml_start_batch_job(
    client, endpoint_name: str, deployment_name: str, data, timeout_seconds: int,
    job_name: str = "", properties: Optional[dict] = None, settings: Optional[dict] = None,
):
    # Invoke the endpoint; returns the job's name. job_name and properties, when given, name the
    # job and set its property dictionary (runtime/batch_jobs.py says why and how); settings
    # are the job's own settings (azml_override_kwargs: params_override and outputs).
    named = dict(settings or {})
    named["params_override"] = list(named.get("params_override", []))
    if job_name:
        named["job_name"] = job_name
    if properties:
        named["params_override"].append({"properties": dict(properties)})
    try:
        job = azml_wait(
            f"invoking batch endpoint {endpoint_name!r}",
            lambda: client.batch_endpoints.invoke(
                endpoint_name=endpoint_name, deployment_name=deployment_name, input=data,
                **named,
            ),
            timeout_seconds,
        )
    finally:
        azml_forget_invoke_headers()
    print(f"batch job {job.name} started on {endpoint_name}/{deployment_name}")
    return job.name


def azml_batch_job_to_run(
    client, endpoint_name: str, deployment_name: str, data, identity: Optional[dict],
    timeout_seconds: int, settings: Optional[dict] = None,
) -> str:
    # The name of the job to wait for: the one an earlier attempt of this task left (running or
    # completed), else a new one. A submission that fails although a job of that name now
    # exists with this task's properties (an answer lost on the way back and the POST sent
    # again, or a concurrent retry of the task) takes that job.
    if identity is None:
        return azml_start_batch_job(client, endpoint_name, deployment_name, data,
                                    timeout_seconds, settings=settings)
    found, attempt = azml_find_batch_job(client, endpoint_name, identity["prefix"])
    if found:
        print(f"batch job {found}, submitted by an earlier attempt of this task, is taken over "
              "instead of submitting another")
        return found
    job_name = f"{identity['prefix']}{attempt}"
    try:
        return azml_start_batch_job(client, endpoint_name, deployment_name, data,
                                    timeout_seconds, job_name, identity["properties"], settings)
    except RuntimeError:
        job = azml_get_or_none(f"reading batch job {job_name!r}", client.jobs.get, job_name)
        mine = identity["properties"].items()
        if job is None or not mine <= dict(getattr(job, "properties", None) or {}).items():
            raise
    print(f"batch job {job_name} exists although its submission failed; it is taken over")
    return job_name


def azml_batch_job_result(
    client, job_name: str, done, endpoint_name: str, deployment_name: str, deployment,
    output_dir: str, timeout_seconds: int, settings: Optional[AzmlBatchJobOverrides] = None,
) -> dict:
    # The ended job: a job that did not complete fails with its error; its whole `score` output
    # folder is downloaded into output_dir: the append_row file and whatever the scoring script
    # wrote to AZUREML_BI_OUTPUT_PATH ("Customize outputs in batch deployments"). settings: the
    # job's own (a file name or output_path given for the job is the job's output file, and
    # only that file is downloaded: the folder around it is the user's).
    import os

    settings = settings or AzmlBatchJobOverrides()

    status = azml_enum_text(done.status)
    result = {
        "job_name": job_name,
        "status": status,
        "endpoint_name": endpoint_name,
        "deployment_name": deployment_name,
        "studio_url": done.studio_url or "",
        "output_action": azml_enum_text(deployment.output_action),
        "output_file_name": settings.output_file_name or deployment.output_file_name or "",
        "output_uri": str(done.outputs["score"].path or "") if "score" in done.outputs else "",
        "job_settings": {k: v for k, v in settings._asdict().items() if v not in (None, "")},
    }
    if status != "Completed":
        raise RuntimeError(
            f"batch job {job_name} on {endpoint_name}/{deployment_name} ended {status}: "
            f"{azml_batch_job_error(client, job_name)}\nstudio: {result['studio_url']}"
        )
    from azure.ai.ml._artifacts._artifact_utilities import download_artifact_from_aml_uri

    azml_wait(
        f"downloading the output of batch job {job_name!r}",
        lambda: download_artifact_from_aml_uri(
            done.outputs["score"].path, output_dir, client.datastores
        ),
        timeout_seconds,
    )
    result["files"] = sorted(
        os.path.relpath(os.path.join(folder, name), output_dir)
        for folder, _, names in os.walk(output_dir) for name in names
    )
    return result


def azml_score_batch(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    output_dir: str,
    deployment_name: str = "",
    input_path: str = "",
    input_uri: str = "",
    timeout_seconds: int = 3600,
    poll_seconds: float = 2.0,
    client=None,
    pipeline_run_id: str = "",
    pipeline_task_name: str = "",
    overrides: Optional[dict] = None,
) -> dict:
    # Invoke the batch endpoint (its default deployment, or deployment_name) on a local file or
    # folder (uploaded once per content: azml_upload_once) or on data already in Azure
    # (azureml:// datastore path, azureml:NAME:VERSION data asset, https URL), wait for the job,
    # and download the predictions into output_dir (made here). overrides: the keyword
    # arguments of azml_batch_job_overrides, this job's own settings. Every input is checked
    # before the first write (the upload, the job): an input with no files, a data asset or
    # output datastore that does not exist and an output_dir that is a file are refused. A
    # failed job fails with its error. With a KFP run id, a retry of the task takes the job an
    # earlier attempt left running or completed instead of submitting another
    # (runtime/batch_jobs.py).
    import os

    azml_check_score_inputs(endpoint_name, deployment_name, input_path, input_uri,
                            timeout_seconds, pipeline_run_id, pipeline_task_name)
    settings = azml_batch_job_overrides(**(overrides or {}))
    azml_prepare_output_dir(output_dir)
    if client is None:  # else the run's one MLClient, made by the component
        client = azml_ml_client(subscription_id, resource_group, workspace_name)
    kind = azml_check_batch_input_exists(client, input_uri) if input_uri else ""
    azml_check_output_path(client, settings)
    deployment_name, deployment = azml_batch_deployment_to_run(
        client, endpoint_name, deployment_name
    )
    if settings.instance_count is not None:  # as deploy_batch_model's instance_count
        compute = str(deployment.compute or "").rstrip("/").rsplit("/", 1)[-1]
        azml_check_batch_compute(client, compute, settings.instance_count)
    if input_path:  # the first write
        kind = "uri_folder" if os.path.isdir(input_path) else "uri_file"
        input_uri = azml_upload_once(client, input_path, timeout_seconds)
    data = azml_batch_input("", input_uri, kind)
    identity = azml_batch_job_identity(
        pipeline_run_id, pipeline_task_name, endpoint_name, deployment_name, input_uri,
        data.type, settings,
    )
    job_name = azml_batch_job_to_run(
        client, endpoint_name, deployment_name, data, identity, timeout_seconds,
        azml_override_kwargs(settings, deployment),
    )
    done = azml_wait_for_job(client, job_name, timeout_seconds, poll_seconds)
    result = azml_batch_job_result(
        client, job_name, done, endpoint_name, deployment_name, deployment, output_dir,
        timeout_seconds, settings,
    )
    return {**result, "input_uri": input_uri}
