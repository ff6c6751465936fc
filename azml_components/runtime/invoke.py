# Calling a deployed endpoint and checking the answer (smoke tests).
from typing import Optional

from azml_components.runtime.azure_client import (
    azml_ml_client,
)
from azml_components.runtime.calls import (
    azml_call,
    azml_describe_error,
    azml_forget_invoke_headers,
)
from azml_components.runtime.validation import azml_check_online_name, azml_check_range


def azml_count_rows(payload) -> Optional[int]:
    # Rows in the request shapes Azure ML scoring accepts; None when the shape is unknown.
    if isinstance(payload, list):
        return len(payload)
    if not isinstance(payload, dict):
        return None
    for key in (
        "input_data",
        "data",
        "inputs",
        "instances",
        "dataframe_split",
        "dataframe_records",
    ):
        if key in payload:
            inner = payload[key]
            if isinstance(inner, dict) and isinstance(inner.get("data"), list):
                return len(inner["data"])
            if isinstance(inner, list):
                return len(inner)
    return None


def azml_predictions(response):
    # The list of predictions in a scoring answer, whatever common wrapper it comes in.
    if isinstance(response, list):
        return response
    if isinstance(response, dict):
        for key in ("predictions", "result", "outputs", "output", "data"):
            if isinstance(response.get(key), list):
                return response[key]
    return None


def azml_check_request(
    payload: str,
    expected_status: int = 200,
    expect_prediction_per_row: bool = True,
    json_schema: str = "",
    max_latency_ms: int = 0,
) -> dict:
    # A smoke test's inputs, checked and parsed before any call (invoke_endpoint, and
    # safe_rollout before its first write): the request body, its rows and the JSON schema.
    import json

    azml_check_range("expected_status", expected_status, 100, 599)
    azml_check_range("max_latency_ms", max_latency_ms, 0)
    try:
        request = json.loads(payload)
    except (TypeError, ValueError) as error:
        raise ValueError(f"payload: not valid JSON ({error})") from error
    rows = azml_count_rows(request)
    if expect_prediction_per_row and rows is None:
        raise ValueError(
            "payload: cannot tell how many rows it holds (expected a list, or "
            "input_data/data/inputs/instances holding a list)"
        )
    schema = None
    if json_schema:
        try:
            schema = json.loads(json_schema)
        except ValueError as error:
            raise ValueError(f"json_schema: not valid JSON ({error})") from error
        import jsonschema

        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            raise ValueError(f"json_schema: not a valid JSON schema ({error.message})") from error
    return {"request": request, "rows": rows, "schema": schema}


def azml_send_request(
    client, endpoint_name: str, request, deployment_name: str, retries: int = 3
) -> dict:
    # One request through the SDK: status, body text, Azure's error (if any) and wall time.
    # A scoring answer of any status is an answer (the checks judge it); an error before the
    # scoring request (the endpoint's ARM read, its key, the credentials) is raised as in
    # azml_call. azure-core retries a POST only on 500, 503 and 504 (or with Retry-After);
    # 429 and 502 from the scoring front door are retried here, `retries` times, 1, 2, 4 s apart.
    # A managed endpoint answers a model's non-200 with 424 and the model's own status in the
    # ms-azureml-model-error-statuscode header ("Troubleshoot online endpoint deployment and
    # scoring", HTTP status codes): the status reported is the model's.
    import json
    import os
    import tempfile
    import time

    handle, request_file = tempfile.mkstemp(suffix=".json")
    with os.fdopen(handle, "w") as out:
        json.dump(request, out)

    def attempt() -> tuple:
        answers = client.azml_scoring_answers  # kept by the client's hook (azml_ml_client)
        answers.clear()
        azml_forget_invoke_headers()
        try:
            text = client.online_endpoints.invoke(
                endpoint_name, request_file=request_file,
                deployment_name=deployment_name or None,
            )
            return 200, text, ""
        except Exception as error:
            if not answers:
                raise  # no scoring answer: azml_call says what failed
            answer = answers[-1]
            status = answer.status_code
            model_status = answer.headers.get("ms-azureml-model-error-statuscode", "")
            if status == 424 and model_status.isdigit():
                status = int(model_status)
            return status, answer.text(), azml_describe_error(error)
        finally:
            azml_forget_invoke_headers()

    try:
        for pause in [1, 2, 4][:retries] + [None]:
            started = time.perf_counter()  # the latency of the answer that counts
            status, text, error_text = azml_call(
                f"calling endpoint {endpoint_name!r}", attempt
            )
            latency_ms = (time.perf_counter() - started) * 1000
            if status not in (429, 502) or pause is None:
                break
            print(f"endpoint {endpoint_name!r} answered {status}; trying again in {pause} s")
            time.sleep(pause)
    finally:
        os.unlink(request_file)
    return {"status": status, "text": text, "error": error_text, "latency_ms": latency_ms}


def azml_check_answer(
    answer: dict,
    checked: dict,
    expected_status: int,
    expect_prediction_per_row: bool,
    max_latency_ms: int,
) -> tuple:
    # (parsed response, problems): every check that did not pass, empty when all did.
    import json

    status, text = answer["status"], answer["text"]
    try:
        response = json.loads(text)
        # Scoring scripts often return json.dumps(...) which the server encodes again.
        if isinstance(response, str):
            response = json.loads(response)
    except ValueError:
        response = text
    problems = []
    if status != expected_status:
        problems.append(
            f"status: expected {expected_status}, got {status} {answer['error']}".strip()
        )
    if expect_prediction_per_row and status < 300:
        predictions = azml_predictions(response)
        if predictions is None:
            problems.append(
                f"predictions: the answer holds no list of predictions: {str(text)[:300]}"
            )
        elif len(predictions) != checked["rows"]:
            problems.append(
                f"predictions: expected one per input row ({checked['rows']}), got "
                f"{len(predictions)}"
            )
    if checked["schema"] is not None and status < 300:
        import jsonschema

        for failure in jsonschema.Draft202012Validator(checked["schema"]).iter_errors(response):
            where = "/".join(map(str, failure.absolute_path)) or "(root)"
            problems.append(f"json_schema: at {where}: {failure.message}")
    latency_ms = answer["latency_ms"]
    if max_latency_ms and latency_ms > max_latency_ms:
        problems.append(f"latency: {latency_ms:.0f} ms is over max_latency_ms {max_latency_ms}")
    return response, problems


def azml_invoke_endpoint(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    payload: str,
    deployment_name: str = "",
    expected_status: int = 200,
    expect_prediction_per_row: bool = True,
    json_schema: str = "",
    max_latency_ms: int = 0,
    client=None,
) -> dict:
    # One request through the SDK; returns the answer and a list of failed checks (empty when
    # all passed). The caller decides how to fail, so the answer can be saved first. client:
    # the run's one MLClient (azml_ml_client); one is made from the workspace arguments when
    # None.
    azml_check_online_name("endpoint_name", endpoint_name)
    if deployment_name:
        azml_check_online_name("deployment_name", deployment_name)
    checked = azml_check_request(
        payload, expected_status, expect_prediction_per_row, json_schema, max_latency_ms
    )
    if client is None:
        client = azml_ml_client(subscription_id, resource_group, workspace_name)
    return azml_call_endpoint(
        client, endpoint_name, deployment_name, checked, expected_status,
        expect_prediction_per_row, max_latency_ms,
    )


def azml_smoke_checks(
    payload: str, expected_status: int, expect_prediction_per_row: bool, json_schema: str,
    max_latency_ms: int,
) -> dict:
    # safe_rollout's smoke test, checked before its first write: azml_call_endpoint's keyword
    # arguments for every call it makes.
    return {
        "checked": azml_check_request(
            payload, expected_status, expect_prediction_per_row, json_schema, max_latency_ms
        ),
        "expected_status": expected_status,
        "expect_prediction_per_row": expect_prediction_per_row,
        "max_latency_ms": max_latency_ms,
    }


def azml_call_endpoint(
    client, endpoint_name: str, deployment_name: str, checked: dict, expected_status: int,
    expect_prediction_per_row: bool, max_latency_ms: int,
) -> dict:
    # One checked request (azml_check_request's result) through the run's client, and the
    # checks of its answer: invoke_endpoint's call, and each smoke test of safe_rollout.
    answer = azml_send_request(
        client, endpoint_name, checked["request"], deployment_name
    )
    response, problems = azml_check_answer(
        answer, checked, expected_status, expect_prediction_per_row, max_latency_ms
    )
    return {
        "endpoint_name": endpoint_name,
        "deployment_name": deployment_name,
        "status": answer["status"],
        "latency_ms": round(answer["latency_ms"], 1),
        "rows": checked["rows"],
        "response": response,
        "problems": problems,
    }
