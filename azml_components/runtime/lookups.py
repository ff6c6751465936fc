# Looking up, before the first write, what an input names in the workspace: each missing thing
# is a ValueError naming the field, where Azure would refuse it only later (at a deployment's
# PUT, or in a job that already started). Reads only.
from azml_components.runtime.calls import azml_get_or_none


def azml_read_registered_model(client, model_id: str):
    # The registered model version model_id names (azureml:NAME:VERSION or its ARM id, as
    # azml_check_model_id admits).
    if model_id.startswith("azureml:"):
        _, name, version = model_id.split(":")
    else:
        parts = model_id.split("/")
        name, version = parts[-3], parts[-1]
    model = azml_get_or_none(
        f"reading model {model_id}", lambda: client.models.get(name, version=version)
    )
    if model is None:
        raise ValueError(f"model_id: {model_id!r} is not registered in this workspace")
    return model
