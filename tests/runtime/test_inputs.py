"""Component inputs that come as an upstream artifact or a string (runtime/inputs.py)."""

import pytest
from kfp import dsl

from azml_components.runtime.inputs import (
    azml_endpoint_name_input,
    azml_model_id_input,
    azml_payload_input,
)


def test_artifact_or_string_inputs(tmp_path):
    registered = dsl.Model(uri=str(tmp_path / "m"), metadata={"asset_id": "azureml:m:3"})
    assert azml_model_id_input(registered, "") == "azureml:m:3"
    assert azml_model_id_input(None, "azureml:x:1") == "azureml:x:1"
    with pytest.raises(ValueError, match="give exactly one"):
        azml_model_id_input(registered, "azureml:x:1")
    with pytest.raises(ValueError, match="no asset_id"):
        azml_model_id_input(dsl.Model(uri=str(tmp_path / "m"), metadata={}), "")
    body = tmp_path / "request.json"
    body.write_text('{"data": [[1]]}')
    assert azml_payload_input("", dsl.Dataset(uri=str(body))) == '{"data": [[1]]}'
    with pytest.raises(ValueError, match="payload / payload_file"):
        azml_payload_input("", None)
    endpoint = dsl.Artifact(uri="https://x", metadata={"endpoint_name": "ep-1"})
    assert azml_endpoint_name_input(endpoint, "") == "ep-1"
    with pytest.raises(ValueError, match="endpoint / endpoint_name"):
        azml_endpoint_name_input(endpoint, "ep-2")


def test_a_string_input_alone_is_taken_as_is():
    assert azml_payload_input('{"data": [[2]]}', None) == '{"data": [[2]]}'
    assert azml_endpoint_name_input(None, "ep-9") == "ep-9"


def test_non_ascii_payload_files_are_read_as_utf8(tmp_path):
    body = tmp_path / "request.json"
    body.write_bytes('{"text": "Grüße"}'.encode())
    assert azml_payload_input("", dsl.Dataset(uri=str(body))) == '{"text": "Grüße"}'


@pytest.mark.parametrize(("call", "message"), [
    (lambda d: azml_model_id_input(None, ""), "registered_model / model_id: give exactly one"),
    (lambda d: azml_model_id_input(dsl.Model(uri=d, metadata={}), ""),
     "registered_model: has no asset_id in its metadata; pass the registered_model output of "
     "register_model"),
    (lambda d: azml_payload_input("x", dsl.Dataset(uri=d)),
     "payload / payload_file: give exactly one"),
    (lambda d: azml_endpoint_name_input(None, ""), "endpoint / endpoint_name: give exactly one"),
    (lambda d: azml_endpoint_name_input(dsl.Artifact(uri=d, metadata={}), ""),
     "endpoint: has no endpoint_name in its metadata; pass the endpoint output of deploy_model"),
])
def test_whole_input_messages(tmp_path, call, message):
    with pytest.raises(ValueError) as raised:
        call(str(tmp_path / "x"))
    assert str(raised.value) == message
