# Component inputs that come either as an upstream artifact or as a plain string.
from typing import Optional


def azml_model_id_input(registered_model, model_id: str) -> str:
    # registered_model: the artifact from register_model (its metadata has asset_id), or None.
    if (registered_model is not None) == bool(model_id):
        raise ValueError("registered_model / model_id: give exactly one")
    if registered_model is None:
        return model_id
    asset_id = registered_model.metadata.get("asset_id", "")
    if not asset_id:
        raise ValueError(
            "registered_model: has no asset_id in its metadata; pass the "
            "registered_model output of register_model"
        )
    return asset_id


def azml_payload_input(payload: str, payload_file) -> str:
    # payload_file: a Dataset artifact whose file holds the JSON body, or None.
    if bool(payload) == (payload_file is not None):
        raise ValueError("payload / payload_file: give exactly one")
    if payload_file is None:
        return payload
    with open(payload_file.path, encoding="utf-8") as handle:
        return handle.read()


def azml_endpoint_name_input(endpoint, endpoint_name: str) -> str:
    # endpoint: the artifact from deploy_model or safe_rollout (metadata endpoint_name), or None.
    if (endpoint is not None) == bool(endpoint_name):
        raise ValueError("endpoint / endpoint_name: give exactly one")
    if endpoint is None:
        return endpoint_name
    name: Optional[str] = endpoint.metadata.get("endpoint_name")
    if not name:
        raise ValueError(
            "endpoint: has no endpoint_name in its metadata; pass the endpoint "
            "output of deploy_model"
        )
    return name
