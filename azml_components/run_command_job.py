"""The run_command_job component: train (or run anything) as an Azure ML command job."""

from typing import NamedTuple, Optional

from kfp import dsl

from azml_components._component import azure_component
from azml_components.runtime.command_jobs import azml_artifact_job_input, azml_run_command_job
from azml_components.runtime.report import azml_write_report


@azure_component
def run_command_job(
    command: str,
    resource_group: str,
    workspace_name: str,
    job: dsl.Output[dsl.Artifact],
    model: dsl.Output[dsl.Model],
    metrics: dsl.Output[dsl.Metrics],
    report: dsl.Output[dsl.Markdown],
    code: Optional[dsl.Input[dsl.Artifact]] = None,
    data: Optional[dsl.Input[dsl.Dataset]] = None,
    input_model: Optional[dsl.Input[dsl.Model]] = None,
    data_input_name: str = "data",
    model_input_name: str = "model",
    inputs: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    outputs: dict = {},  # noqa: B006
    model_output: str = "",
    download_outputs: bool = False,
    environment: str = "",
    conda_file: str = "",
    image: str = "",
    compute: str = "",
    instance_type: str = "",
    instance_count: int = 1,
    distribution: dict = {},  # noqa: B006
    environment_variables: dict = {},  # noqa: B006
    experiment_name: str = "",
    display_name: str = "",
    description: str = "",
    tags: dict = {},  # noqa: B006
    subscription_id: str = "",
    timeout_seconds: int = 86400,
    pipeline_run_id: str = dsl.PIPELINE_JOB_ID_PLACEHOLDER,
    pipeline_name: str = dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
    pipeline_task_name: str = dsl.PIPELINE_TASK_NAME_PLACEHOLDER,
) -> NamedTuple("Outputs", [("job_name", str)]):
    """Run an Azure ML command job (training on a cluster, serverless or Kubernetes compute).

    Submits the command job, streams its log into this task's log until it ends, and hands on
    where its outputs are and the metrics it logged with MLflow. Inputs given as KFP artifacts
    are uploaded once per content, or passed by reference when they already live in Azure (a
    run_command_job output, a register_model output); ``inputs`` may also name datastore URIs
    and data or model assets, which are never downloaded. Each job output is written by the job
    to the workspace's default datastore (azureml/<job>/<output>/); its ``azureml://`` path goes
    into this task's ``job`` artifact, and ``model_output``'s into the ``model`` artifact, which
    register_model registers with no transfer. The job is named after the KFP run, the task and
    its content: a retry (or a re-run after the pod was killed) waits for the job it already
    submitted instead of submitting a second one. SIGTERM (the run was cancelled) and the
    deadline cancel the Azure job; a failed job fails the task with Azure's error and the end of
    the job's log. Every rule is checked before anything is written to Azure.

    Args:
        command: The command, with ``${{inputs.NAME}}`` and ``${{outputs.NAME}}`` bindings
            (``$[[...]]`` parts are dropped when their input is missing).
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        code: Folder with the job's code (uploaded as the job's code snapshot, its working
            directory). Leave it out when the code is in the environment's image.
        data: A dataset (file or folder) for the job, input ``data_input_name``.
        input_model: A model for the job (a register_model output is passed by reference),
            input ``model_input_name``.
        data_input_name: Name of the job input ``data`` becomes.
        model_input_name: Name of the job input ``input_model`` becomes.
        inputs: More job inputs: NAME -> a literal, or {"type": uri_file, uri_folder,
            mlflow_model or custom_model, "path": an azureml:// URI, azureml:NAME:VERSION or an
            https URL}.
        outputs: Job outputs: NAME -> uri_file, uri_folder, mlflow_model or custom_model, or
            {"type": one of those}, as a job YAML writes it.
        model_output: The output handed on as the ``model`` artifact (one of ``outputs``).
        download_outputs: Copy ``model_output``'s files into the ``model`` artifact too (off:
            large models stay where they are; their metadata is enough to register them).
        environment: A registered or curated environment (azureml:NAME:VERSION,
            azureml:NAME@latest, azureml://registries/azureml/environments/NAME/labels/latest).
            Give this or conda_file.
        conda_file: Conda environment: YAML content, or a .yml file name in the code folder.
        image: Base image for conda_file (default: Azure ML's Ubuntu 22.04 image).
        compute: A compute cluster or an attached Kubernetes compute of the workspace (3-24
            characters); empty runs on serverless compute.
        instance_type: VM size on serverless compute, or the Kubernetes instance type.
        instance_count: Nodes the job runs on (at least 1).
        distribution: {"type": "pytorch" or "mpi", "process_count_per_instance": N}; empty
            runs the command once per node.
        environment_variables: Environment variables for the job's processes.
        experiment_name: Experiment the job is filed under (letters, digits, '-', '_').
        display_name: The job's display name in Azure ML studio.
        description: The job's description.
        tags: Tags of the job (at most 50 with the lineage tags; Azure's tag rules).
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        timeout_seconds: The job's time limit (limits.timeout), and how long the task waits.
        pipeline_run_id: KFP run id: names the job with the task and goes into its tags
            (azml-kfp-run, kfp_run_id) (filled in by KFP).
        pipeline_name: KFP pipeline job name recorded as kfp_pipeline (filled in by KFP).
        pipeline_task_name: The task's name in the run (pass
            dsl.PIPELINE_TASK_NAME_PLACEHOLDER); with pipeline_run_id it names the job.

    Returns:
        job: The Azure ML job; its metadata carries job_name, status, experiment_name,
            outputs (NAME -> {azureml_path, type}), reused (true when a retry took over the job
            an earlier attempt submitted) and studio_url.
        model: ``model_output``'s output; its metadata carries azureml_path, type (the asset
            type, e.g. mlflow_model), job_name and studio_url. Its files only with
            download_outputs.
        metrics: The job's MLflow metrics (the latest value of each metric it logged with
            mlflow.log_metric into its run, through Azure ML's MLflow tracking).
        report: Markdown report: job, status, outputs, metrics and the studio link.
        job_name: The Azure ML job's name.

    """
    from collections import namedtuple

    all_inputs = dict(inputs)
    if data is not None:
        all_inputs[data_input_name] = azml_artifact_job_input(data.path, data.metadata)
    if input_model is not None:
        all_inputs[model_input_name] = azml_artifact_job_input(
            input_model.path, input_model.metadata, "")
    lineage = {k: v for k, v in (("kfp_run_id", pipeline_run_id),
                                 ("kfp_pipeline", pipeline_name))
               if v and not str(v).startswith("{{$")}
    result = azml_run_command_job(
        subscription_id=subscription_id, resource_group=resource_group,
        workspace_name=workspace_name, command=command, pipeline_run_id=pipeline_run_id,
        pipeline_task_name=pipeline_task_name, model_output=model_output,
        download_to=model.path if download_outputs else "",
        code_path=code.path if code is not None else "", environment=environment,
        conda_file=conda_file, image=image, compute=compute, instance_type=instance_type,
        instance_count=instance_count, distribution=distribution,
        environment_variables=environment_variables, experiment_name=experiment_name,
        display_name=display_name, description=description, tags={**tags, **lineage},
        inputs=all_inputs, outputs=outputs, timeout_seconds=timeout_seconds,
    )
    # Artifact uris stay what KFP assigned (the KFP 2.x launcher accepts only bucket URIs on the
    # next task's inputs, see kfp-backend-facts); Azure paths and links go in metadata.
    job.metadata.update({"job_name": result["name"], "status": result["status"],
                         "experiment_name": result["experiment_name"],
                         "outputs": result["outputs"], "reused": result["reused"],
                         "studio_url": result["studio_url"]})
    if model_output:
        model.metadata.update({**result["outputs"][model_output], "job_name": result["name"],
                               "studio_url": result["studio_url"]})
    for key, value in sorted(result["metrics"].items()):
        metrics.log_metric(key, value)
    azml_write_report(report.path, f"Command job {result['name']}", {
        "job": result["name"], "status": result["status"],
        "experiment": result["experiment_name"], "compute": compute or "serverless",
        "outputs": ", ".join(f"{k} ({v['type']}): {v['azureml_path']}"
                             for k, v in result["outputs"].items()) or "(none)",
        "metrics": ", ".join(f"{k}={v:.6g}" for k, v in sorted(result["metrics"].items()))
        or "(none logged)",
        "taken over from an earlier attempt": result["reused"],
        "Azure ML studio": result["studio_url"],
    })
    return namedtuple("Outputs", ["job_name"])(result["name"])
