# A batch job's own settings: what `az ml batch-endpoint invoke` lets one job change of its
# deployment's (--mini-batch-size, --instance-count, --output-path, --output-file-name and, with
# --set, retry_settings and error_threshold). azure-ai-ml 1.35 sends them as the invoke's
# params_override (BatchJobSchema: mini_batch_size, compute.instance_count, error_threshold,
# retry_settings.max_retries/timeout, output_file_name) and `outputs` (a uri_file output: the file
# the append_row predictions are written to, "Configure the output location" in "Create jobs and
# input data for batch endpoints"). The REST body is BatchJob (v2020_09_01_dataplanepreview):
# miniBatchSize, compute.instanceCount, errorThreshold ("Range is [-1, int.MaxValue]"),
# retrySettings, outputFileName, outputData. BatchJob has no environment variables: a job runs
# with its deployment's (deploy_batch_model's environment_variables).
from typing import Optional

from azml_components.runtime.calls import azml_get_or_none
from azml_components.runtime.records import AzmlBatchJobOverrides
from azml_components.runtime.register import azml_datastore_path
from azml_components.runtime.validation import azml_check_file_name, azml_check_range


def azml_batch_job_overrides(
    mini_batch_size: Optional[int] = None,
    instance_count: Optional[int] = None,
    error_threshold: Optional[int] = None,
    max_retries: Optional[int] = None,
    retry_timeout_seconds: Optional[int] = None,
    output_file_name: str = "",
    output_path: str = "",
) -> AzmlBatchJobOverrides:
    # The overrides, checked with the deployment's rules (azml_batch_options); None or "" keeps
    # the deployment's setting. No call to Azure.
    for field, value, low in (
        ("mini_batch_size", mini_batch_size, 1),
        ("instance_count", instance_count, 1),
        ("error_threshold", error_threshold, -1),
        ("max_retries", max_retries, 0),
        ("retry_timeout_seconds", retry_timeout_seconds, 1),
    ):
        if value is not None:
            azml_check_range(field, value, low)
    if output_file_name:
        azml_check_file_name("output_file_name", output_file_name)
    if output_path and not output_path.startswith("azureml://"):
        raise ValueError(
            f"output_path: {output_path!r} must be a datastore folder, "
            "azureml://datastores/NAME/paths/FOLDER"
        )
    return AzmlBatchJobOverrides(
        mini_batch_size, instance_count, error_threshold, max_retries, retry_timeout_seconds,
        output_file_name, output_path.rstrip("/"),
    )


def azml_check_output_path(client, overrides: AzmlBatchJobOverrides) -> None:
    # Reads only, before the job is submitted: the output_path is a datastore of this workspace
    # (Azure would fail the job at its end, after all the scoring).
    if overrides.output_path:
        located = azml_datastore_path(
            overrides.output_path + "/", client.subscription_id, client.resource_group_name,
            client.workspace_name,
        )
        if located is None:
            raise ValueError(
                f"output_path: {overrides.output_path!r} must be a datastore folder of this "
                "workspace, azureml://datastores/NAME/paths/FOLDER"
            )
        store = azml_get_or_none(
            f"reading datastore {located[0]!r}", client.datastores.get, located[0]
        )
        if store is None:
            raise ValueError(
                f"output_path: datastore {located[0]!r} is not a datastore of this workspace"
            )


def azml_override_kwargs(overrides: AzmlBatchJobOverrides, deployment) -> dict:
    # The invoke's keyword arguments for the overrides: params_override entries, and `outputs`
    # for an output_path (the file is output_path/<the job's output file name>).
    from azure.ai.ml import Output

    params = []
    if overrides.mini_batch_size is not None:
        params.append({"mini_batch_size": overrides.mini_batch_size})
    if overrides.instance_count is not None:
        params.append({"compute": {"instance_count": overrides.instance_count}})
    if overrides.error_threshold is not None:
        params.append({"error_threshold": overrides.error_threshold})
    retry = {}
    if overrides.max_retries is not None:
        retry["max_retries"] = overrides.max_retries
    if overrides.retry_timeout_seconds is not None:
        retry["timeout"] = overrides.retry_timeout_seconds
    if retry:
        params.append({"retry_settings": retry})
    if overrides.output_file_name:
        params.append({"output_file_name": overrides.output_file_name})
    kwargs = {"params_override": params} if params else {}
    if overrides.output_path:
        name = overrides.output_file_name or deployment.output_file_name or "predictions.csv"
        kwargs["outputs"] = {
            "score": Output(type="uri_file", path=f"{overrides.output_path}/{name}")
        }
    return kwargs
