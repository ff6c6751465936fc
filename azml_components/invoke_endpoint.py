"""The invoke_endpoint component (smoke test)."""

from typing import NamedTuple, Optional

from kfp import dsl

from azml_components._component import azure_component
from azml_components.runtime.inputs import azml_endpoint_name_input, azml_payload_input
from azml_components.runtime.invoke import azml_invoke_endpoint


@azure_component
def invoke_endpoint(
    resource_group: str,
    workspace_name: str,
    response: dsl.Output[dsl.Artifact],
    endpoint: Optional[dsl.Input[dsl.Artifact]] = None,
    endpoint_name: str = "",
    deployment_name: str = "",
    # <settings: smoke_test>
    payload: str = "",
    payload_file: Optional[dsl.Input[dsl.Dataset]] = None,
    expected_status: int = 200,
    expect_prediction_per_row: bool = True,
    json_schema: str = "",
    max_latency_ms: int = 0,
    # </settings>
    subscription_id: str = "",
) -> NamedTuple("Outputs", [("status", int), ("latency_ms", float)]):
    """Send a request to an online endpoint and check the answer (a smoke test).

    The request goes through Azure ML's scoring URI with the endpoint's key, to the deployment
    the endpoint's traffic picks or, with ``deployment_name``, to that deployment directly (so a
    deployment with no traffic yet can be tested). The task fails, listing every check that did
    not pass, when the status, the prediction count, the JSON schema or the latency is not as
    expected; the answer is saved first.

    Args:
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        endpoint: The endpoint output of deploy_model. Give this or endpoint_name.
        endpoint_name: Online endpoint to call. Give this or endpoint.
        deployment_name: Call this deployment directly instead of following traffic.
        payload: The JSON request body (the scoring script's input). Give this or payload_file.
        payload_file: A Dataset artifact holding the JSON request body (a file).
        expected_status: HTTP status every answer must have: the model's own (a managed endpoint's
            424 carries it in ms-azureml-model-error-statuscode).
        expect_prediction_per_row: Require one prediction per input row (rows are counted in
            input_data, data, inputs or instances, or a top-level list).
        json_schema: A JSON schema (draft 2020-12) every answer must match; empty skips it.
        max_latency_ms: Upper bound for each call's wall time in milliseconds (0 = no bound); it
            includes the key lookup the SDK makes.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.

    Returns:
        response: JSON file with status, latency_ms, rows, the parsed answer and the problems.
        status: HTTP status of the answer.
        latency_ms: Wall time of the call in milliseconds.

    """
    import json
    from collections import namedtuple

    endpoint_name = azml_endpoint_name_input(endpoint, endpoint_name)
    payload = azml_payload_input(payload, payload_file)
    result = azml_invoke_endpoint(
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace_name=workspace_name,
        endpoint_name=endpoint_name,
        payload=payload,
        deployment_name=deployment_name,
        expected_status=expected_status,
        expect_prediction_per_row=expect_prediction_per_row,
        json_schema=json_schema,
        max_latency_ms=max_latency_ms,
    )
    with open(response.path, "w", encoding="utf-8") as out:
        json.dump(result, out, indent=2, sort_keys=True)
    response.metadata.update(
        {k: result[k] for k in ("endpoint_name", "deployment_name", "status", "latency_ms")}
    )
    target = f"{endpoint_name}/{deployment_name}" if deployment_name else endpoint_name
    print(f"{target}: HTTP {result['status']} in {result['latency_ms']} ms")
    print(json.dumps(result["response"])[:2000])
    if result["problems"]:
        raise RuntimeError(f"smoke test of {target} failed:\n- " + "\n- ".join(result["problems"]))
    outputs = namedtuple("Outputs", ["status", "latency_ms"])
    return outputs(result["status"], float(result["latency_ms"]))
