"""No-code scoring for MLflow models, as Azure ML serves them: `{"input_data": ...}` requests.

Used by the stand-in when a deployment of an mlflow_model has no scoring script.
"""

import json
import os

model = None


def _find_mlmodel(root: str) -> str:
    for folder, _, files in os.walk(root):
        if "MLmodel" in files:
            return folder
    raise FileNotFoundError(f"no MLmodel file under {root}")


def init():
    """Load the MLflow model in AZUREML_MODEL_DIR/MLFLOW_MODEL_FOLDER, as Azure's script does."""
    global model
    import mlflow.pyfunc

    root = os.path.join(os.environ["AZUREML_MODEL_DIR"], os.environ.get("MLFLOW_MODEL_FOLDER", ""))
    model = mlflow.pyfunc.load_model(_find_mlmodel(root))


def run(raw_data):
    """Predict for {"input_data": {"columns", "index", "data"}} or {"input_data": [[...]]}."""
    import pandas as pd
    from azureml_inference_server_http.api.aml_response import AMLResponse

    try:
        request = json.loads(raw_data)
        data = request["input_data"]
        if isinstance(data, dict):
            frame = pd.DataFrame(data["data"], columns=data.get("columns"),
                                 index=data.get("index"))
        elif isinstance(data, list):
            frame = pd.DataFrame(data)
        else:
            raise ValueError("input_data must be an object with columns/index/data or a list")
    except (KeyError, TypeError, ValueError) as error:
        return AMLResponse(f"Bad request: {error}; expected "
                           '{"input_data": {"columns": [...], "index": [...], "data": [[...]]}}',
                           400)
    predictions = model.predict(frame)
    if hasattr(predictions, "tolist"):
        return predictions.tolist()
    return list(predictions)
