"""No-code scoring for MLflow models, as Azure ML serves them: `{"input_data": ...}` requests.

Used by the stand-in when a deployment of an mlflow_model has no scoring script.
"""

import json
import logging
import os

model = None
collectors = {}  # model_inputs / model_outputs: azureml-ai-monitoring Collectors, when enabled


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
    _init_collectors()


def _enabled_collections():
    # The collections the deployment enabled (the data collector's config file).
    path = os.environ.get("AZUREML_MDC_CONFIG_PATH")
    if not path:
        return set()
    with open(path) as handle:
        config = json.load(handle)
    return {name.lower() for name, c in (config.get("collections") or {}).items()
            if c.get("enabled")}


def _init_collectors():
    # Azure "auto-instruments your scoring script with custom logging code" when an MLflow
    # deployment collects data ("Collect production data from models for real-time
    # inferencing", learn.microsoft.com). Azure's script (azureml-assets, assets/inference/
    # environments/mlflow-py312-inference/context/mlflow_score_script.py) makes Collectors for
    # model_inputs and model_outputs in init() when ENABLE_MDC is set, collects the input frame
    # and pd.DataFrame(result), and logs a collection error instead of raising it.
    wanted = _enabled_collections() & {"model_inputs", "model_outputs"}
    if not wanted or not os.environ.get("ENABLE_MDC"):
        return
    from azureml.ai.monitoring import Collector

    for name in sorted(wanted):
        collectors[name] = Collector(
            name=name, on_error=lambda e: logging.warning("data collection: %s", e))


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
    context = None
    if "model_inputs" in collectors:
        try:
            context = collectors["model_inputs"].collect(frame)
        except Exception as error:  # noqa: BLE001 - as Azure's script: logged, never raised
            logging.error("Error collecting model_inputs collection request. %s", error)
    predictions = model.predict(frame)
    if "model_outputs" in collectors:
        try:
            collectors["model_outputs"].collect(pd.DataFrame(predictions), context)
        except Exception as error:  # noqa: BLE001 - as Azure's script: logged, never raised
            logging.error("Error collecting model_outputs collection request. %s", error)
    if hasattr(predictions, "tolist"):
        return predictions.tolist()
    return list(predictions)
