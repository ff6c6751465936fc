"""The batch components: deploy_batch_model and score_batch."""

from typing import NamedTuple, Optional

from kfp import dsl

from azml_components._component import azure_component
from azml_components.runtime.batch import (
    azml_batch_options,
    azml_deploy_batch_model,
    azml_score_batch,
)
from azml_components.runtime.inputs import azml_model_id_input
from azml_components.runtime.report import azml_write_report


@azure_component
def deploy_batch_model(
    endpoint_name: str,
    deployment_name: str,
    resource_group: str,
    workspace_name: str,
    compute: str,
    endpoint: dsl.Output[dsl.Artifact],
    report: dsl.Output[dsl.Markdown],
    # <settings: model>
    registered_model: Optional[dsl.Input[dsl.Model]] = None,
    model_id: str = "",
    # </settings>
    code: Optional[dsl.Input[dsl.Artifact]] = None,
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
    environment_variables: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    set_default: bool = True,
    subscription_id: str = "",
    timeout_seconds: int = 3600,
    description: str = "",
    tags: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    environment_name: str = "",
    environment_version: str = "",
    pipeline_run_id: str = dsl.PIPELINE_JOB_ID_PLACEHOLDER,
    pipeline_name: str = dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
) -> NamedTuple("Outputs", [("invocation_uri", str)]):
    """Deploy a registered model to an Azure ML batch endpoint for batch scoring.

    Creates the batch endpoint if it does not exist, creates or updates the model deployment
    on the compute cluster ``compute`` and waits for it, then (``set_default``) makes it the
    endpoint's default deployment, the one an invocation without a deployment name runs.
    MLflow models deploy without code or environment (no-code); custom models need a code
    folder with a scoring script (``init()`` and ``run(mini_batch)``, where a mini-batch is a
    list of file paths) and an environment. A failed new deployment is deleted, as is an
    endpoint this task created. Nothing is written before every input is checked: the rules
    first, then what the inputs name in the workspace (the compute cluster, with room for
    ``instance_count`` nodes; the model; a registered environment).

    Args:
        endpoint_name: Batch endpoint name (3-32 characters: a letter, then letters, digits or
            hyphens); unique in the Azure region.
        deployment_name: Deployment name under the endpoint (same rule).
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        compute: Name of an existing compute cluster (AmlCompute) of the workspace.
        registered_model: The registered_model output of register_model. Give this or model_id.
        model_id: A registered model as azureml:NAME:VERSION or its ARM id. Give this or
            registered_model.
        code: Folder holding the scoring script and anything it imports (custom models).
        scoring_script: File name of the scoring script inside the code folder.
        conda_file: Conda environment: YAML content, or the name of a .yml file in the code
            folder.
        image: Base image for the conda environment (default: Azure ML's Ubuntu 22.04 image).
        environment: A registered environment (azureml:NAME:VERSION) instead of conda_file.
        mini_batch_size: Files per mini-batch, i.e. per call of run() (at least 1).
        instance_count: Cluster nodes a job uses (at least 1, at most the cluster's maximum
            node count).
        max_concurrency_per_instance: Scoring processes per node (at least 1).
        output_action: append_row (every run()'s rows go to one file) or summary_only (no
            such file: the scoring script writes its own files to the folder named by the
            AZUREML_BI_OUTPUT_PATH environment variable). Either way every file in that folder
            is the job's output.
        output_file_name: Name of the append_row file; empty means predictions.csv. Only with
            append_row.
        max_retries: Retries of a failed or timed-out mini-batch (0 or more).
        retry_timeout_seconds: Seconds a mini-batch may take before it counts as failed.
        error_threshold: Failed files a job tolerates before it is aborted; -1 ignores all.
        logging_level: debug, info or warning.
        environment_variables: Extra environment variables for the scoring processes.
        set_default: Make this deployment the endpoint's default.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        timeout_seconds: How long each long-running operation may take.
        description: Description of the deployment.
        tags: Tags of the deployment (at most 50 with the lineage tags; Azure's tag rules).
        environment_name: Register the conda_file environment under this name (as the
            environment block of a batch deployment YAML names it); empty leaves it
            anonymous.
        environment_version: Its version; empty means the latest version when that holds the
            same image and conda file, else the next one. Needs environment_name.
        pipeline_run_id: KFP run id recorded in the deployment's tags as kfp_run_id (filled in
            by KFP).
        pipeline_name: KFP pipeline job name recorded as kfp_pipeline (filled in by KFP).

    Returns:
        endpoint: The batch endpoint; its metadata carries endpoint_name, deployment_name,
            invocation_uri, default_deployment, endpoint_id, deployment_id, model_id, compute,
            output_action, output_file_name, description, tags, environment_id,
            created_endpoint and studio_url.
        report: Markdown report: endpoint, deployment, model, settings and the studio link.
        invocation_uri: The endpoint's invocation URI (jobs are created by POSTing to it).

    """
    from collections import namedtuple

    model_id = azml_model_id_input(registered_model, model_id)
    options = dict(
        compute=compute,
        code_path=code.path if code is not None else "",
        scoring_script=scoring_script,
        conda_file=conda_file,
        image=image,
        environment=environment,
        mini_batch_size=mini_batch_size,
        instance_count=instance_count,
        max_concurrency_per_instance=max_concurrency_per_instance,
        output_action=output_action,
        output_file_name=output_file_name,
        max_retries=max_retries,
        retry_timeout_seconds=retry_timeout_seconds,
        error_threshold=error_threshold,
        logging_level=logging_level,
        environment_variables=environment_variables,
        description=description,
        tags=tags,
        environment_name=environment_name,
        environment_version=environment_version,
    )
    azml_batch_options(**options)  # the rules that need no call, before the first call to Azure
    result = azml_deploy_batch_model(
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace_name=workspace_name,
        endpoint_name=endpoint_name,
        deployment_name=deployment_name,
        model_id=model_id,
        options=options,
        set_default=set_default,
        timeout_seconds=timeout_seconds,
        lineage={"kfp_run_id": pipeline_run_id, "kfp_pipeline": pipeline_name},
    )
    endpoint.metadata.update(result)
    azml_write_report(
        report.path,
        f"Batch deployment {deployment_name} on {endpoint_name}",
        {
            "endpoint": result["endpoint_name"],
            "invocation URI": result["invocation_uri"],
            "model": model_id,
            "compute": compute,
            "default deployment": result["default_deployment"] or "(none)",
            "mini-batch size": mini_batch_size,
            "output": f"{output_action} ({result['output_file_name'] or 'no file'})",
            "environment": result["environment_id"] or "(MLflow: the model's own)",
            "error threshold": error_threshold,
            "endpoint created by this run": result["created_endpoint"],
            "endpoint in studio": result["studio_url"],
        },
        {},
        {},
        {},
        [],
    )
    print(f"Deployed {model_id} as batch {endpoint_name}/{deployment_name} on {compute}")
    outputs = namedtuple("Outputs", ["invocation_uri"])
    return outputs(result["invocation_uri"])


@azure_component
def score_batch(
    resource_group: str,
    workspace_name: str,
    predictions: dsl.Output[dsl.Dataset],
    report: dsl.Output[dsl.Markdown],
    endpoint: Optional[dsl.Input[dsl.Artifact]] = None,
    endpoint_name: str = "",
    deployment_name: str = "",
    dataset: Optional[dsl.Input[dsl.Dataset]] = None,
    input_uri: str = "",
    # This job's own settings (issue 21, item 11): each replaces the deployment's when given.
    mini_batch_size: int = 0,
    instance_count: int = 0,
    error_threshold: int = -2,
    max_retries: int = -1,
    retry_timeout_seconds: int = 0,
    output_file_name: str = "",
    output_path: str = "",
    subscription_id: str = "",
    timeout_seconds: int = 3600,
    pipeline_run_id: str = dsl.PIPELINE_JOB_ID_PLACEHOLDER,
    pipeline_task_name: str = dsl.PIPELINE_TASK_NAME_PLACEHOLDER,
) -> NamedTuple("Outputs", [("job_name", str)]):
    """Score a dataset with an Azure ML batch endpoint and return the predictions.

    Invokes the batch endpoint (its default deployment, or ``deployment_name``), which starts a
    batch job that splits the input files into mini-batches and runs the deployment's scoring
    script on them; waits for the job and downloads its predictions. The input is a KFP
    Dataset (a file or a folder of files, uploaded to the workspace's datastore) or data
    already in Azure (``input_uri``). Inputs are checked before the job is submitted: a
    dataset folder with no files, an ``input_uri`` datastore path with nothing at it and a
    ``predictions`` path that is an existing file fail the task first. A failed job fails the
    task with the job's error; when the task is cancelled (SIGTERM) or times out, the Azure job
    is cancelled too.

    A killed task (on a cluster a cancelled run's pod ends within about a second; a node can
    die) leaves its Azure job running. The job is named after the KFP run, this task, the
    endpoint, the deployment and the input, and carries the run and task in its properties
    (``azml-kfp-run``, ``azml-kfp-task``), so a retry of the task with the same inputs takes
    that job over, waiting for it or taking its result, instead of submitting a second one; a
    job of the run that failed or was canceled is not taken (a new one is submitted). The
    ``recover_batch_jobs`` component, as a ``dsl.ExitHandler`` exit task, cancels what a killed
    run left running.

    The job can change its deployment's settings for itself, as ``az ml batch-endpoint invoke``
    does (mini-batch size, instance count, error threshold, retry settings, output file name
    and output path); the job runs with the deployment's environment variables. A Dataset
    input is uploaded under its content hash: the same data is uploaded once and scored from
    the same place by every run.

    Args:
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        endpoint: The endpoint output of deploy_batch_model. Give this or endpoint_name.
        endpoint_name: Batch endpoint to invoke. Give this or endpoint.
        deployment_name: Run this deployment instead of the endpoint's default.
        dataset: The data to score: a Dataset artifact (a file or a folder of files). Give
            this or input_uri.
        input_uri: Data already in Azure: an azureml://datastores/.../paths/... URI (a file,
            or a folder of files, as the datastore shows; end it with '/' for a folder), a
            data asset as azureml:NAME:VERSION (of type uri_file or uri_folder), or an https
            URL. Give this or dataset.
        mini_batch_size: Files per run() call for this job (at least 1); 0: the
            deployment's.
        instance_count: Cluster nodes this job uses (at least 1, at most the cluster's
            maximum); 0: the deployment's.
        error_threshold: Failed files this job tolerates before it is aborted (-1 ignores
            all); -2: the deployment's.
        max_retries: Retries of a failed or timed-out mini-batch in this job (0 or more);
            -1: the deployment's.
        retry_timeout_seconds: Seconds a mini-batch of this job may take (at least 1); 0:
            the deployment's.
        output_file_name: Name of this job's append_row file; empty: the deployment's.
        output_path: A datastore folder, azureml://datastores/NAME/paths/FOLDER, where this
            job writes its append_row file (FOLDER/output file name); empty: the job's own
            folder on the default datastore.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        timeout_seconds: How long the job may take (and the upload, and the download).
        pipeline_run_id: KFP run the job belongs to (pass dsl.PIPELINE_JOB_ID_PLACEHOLDER:
            KFP fills it in only as a task argument). Without it every call submits a job.
        pipeline_task_name: The task's name in the run (pass
            dsl.PIPELINE_TASK_NAME_PLACEHOLDER); with pipeline_run_id it names the job.

    Returns:
        predictions: The job's whole output folder (its `score` output): the append_row
            file (the deployment's or the job's output_file_name) and every file the scoring
            script wrote to AZUREML_BI_OUTPUT_PATH (with output_path: only the job's output
            file); its metadata carries job_name, status, endpoint_name, deployment_name,
            output_file_name, output_uri (where the job wrote it), job_settings (the settings
            this job gave), files (paths inside the folder) and studio_url (the job in Azure
            ML studio).
        report: Markdown report: endpoint, deployment, job, input and the studio link.
        job_name: Name of the Azure ML batch job.

    """
    from collections import namedtuple

    if (endpoint is not None) == bool(endpoint_name):
        raise ValueError("endpoint / endpoint_name: give exactly one")
    if endpoint is not None:
        endpoint_name = endpoint.metadata.get("endpoint_name", "")
        if not endpoint_name:
            raise ValueError(
                "endpoint: has no endpoint_name in its metadata; pass the endpoint output of "
                "deploy_batch_model"
            )
    if (dataset is not None) == bool(input_uri):
        raise ValueError("dataset / input_uri: give exactly one")
    result = azml_score_batch(
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace_name=workspace_name,
        endpoint_name=endpoint_name,
        output_dir=predictions.path,
        deployment_name=deployment_name,
        input_path=dataset.path if dataset is not None else "",
        input_uri=input_uri,
        timeout_seconds=timeout_seconds,
        pipeline_run_id=pipeline_run_id,
        pipeline_task_name=pipeline_task_name,
        # Each number's "the deployment's" value (KFP has no empty int input: kfp.local turns
        # an Optional[int] left out into int(None)) becomes None; any other value is checked.
        overrides=dict(
            mini_batch_size=None if mini_batch_size == 0 else mini_batch_size,
            instance_count=None if instance_count == 0 else instance_count,
            error_threshold=None if error_threshold == -2 else error_threshold,
            max_retries=None if max_retries == -1 else max_retries,
            retry_timeout_seconds=None if retry_timeout_seconds == 0 else retry_timeout_seconds,
            output_file_name=output_file_name,
            output_path=output_path,
        ),
    )
    predictions.metadata.update(result)
    azml_write_report(
        report.path,
        f"Batch job {result['job_name']} on {endpoint_name}",
        {
            "endpoint": endpoint_name,
            "deployment": result["deployment_name"],
            "job": result["job_name"],
            "status": result["status"],
            "input": input_uri or "the dataset input",
            "output files": ", ".join(result["files"]) or "(none)",
            "output": result["output_uri"],
            "job settings": ", ".join(f"{k}={v}" for k, v in result["job_settings"].items())
            or "(the deployment's)",
            "job in studio": result["studio_url"],
        },
        {},
        {},
        {},
        [],
    )
    print(f"batch job {result['job_name']}: {result['status']}; files {result['files']}")
    outputs = namedtuple("Outputs", ["job_name"])
    return outputs(result["job_name"])
