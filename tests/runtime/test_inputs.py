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
