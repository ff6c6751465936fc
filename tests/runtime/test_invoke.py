"""Smoke-test inputs and answers (runtime/invoke.py); calls through the SDK are in test_deploy."""

import json

import pytest

from azml_components.runtime.invoke import azml_check_answer, azml_check_request


def test_a_request_is_parsed_once_with_its_rows_and_schema():
    checked = azml_check_request('{"input_data": {"data": [[1], [2]]}}',
                                 json_schema='{"type": "array"}')
    assert checked == {"request": {"input_data": {"data": [[1], [2]]}}, "rows": 2,
                       "schema": {"type": "array"}}
    assert azml_check_request('{"x": 1}', expect_prediction_per_row=False)["rows"] is None


@pytest.mark.parametrize(("arguments", "message"), [
    ({"payload": "{nope"}, "^payload: not valid JSON"),
    ({"payload": '{"x": 1}'}, "^payload: cannot tell how many rows"),
    ({"payload": "[1]", "json_schema": "{"}, "^json_schema: not valid JSON"),
    ({"payload": "[1]", "expected_status": 42}, "^expected_status: 42 must be between 100"),
    ({"payload": "[1]", "max_latency_ms": -1}, "^max_latency_ms: -1 must be at least 0"),
])
def test_bad_smoke_test_inputs_name_the_field(arguments, message):
    with pytest.raises(ValueError, match=message):
        azml_check_request(**arguments)


def test_answer_checks_list_every_problem():
    checked = azml_check_request("[[1], [2]]", json_schema='{"items": {"type": "string"}}')
    answer = {"status": 200, "text": json.dumps(json.dumps([1.0])), "error": "",
              "latency_ms": 80.0}
    response, problems = azml_check_answer(answer, checked, 200, True, 50)
    assert response == [1.0]  # a scoring script's json.dumps, encoded again by the server
    assert [p.split(":")[0] for p in problems] == ["predictions", "json_schema", "latency"]
    failed = {"status": 503, "text": "busy", "error": "HttpResponseError: busy", "latency_ms": 1}
    assert azml_check_answer(failed, checked, 200, True, 0)[1] == [
        "status: expected 200, got 503 HttpResponseError: busy"]
