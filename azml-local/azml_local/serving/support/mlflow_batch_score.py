"""No-code batch scoring of MLflow models (the stand-in's, run by batch_driver.py).

As Azure ML scores MLflow models in batch deployments ("Deploy MLflow models in batch
deployments", learn.microsoft.com): each file of a mini-batch is read as a table (CSV, or
Parquet when the environment can read it), predicted row by row, and returned as rows of
(row, prediction, file), which azureml-examples read back with names=["row", "prediction",
"file"]. Files of other types fail.
"""

import os

model = None


def _find_mlmodel(root: str) -> str:
    for folder, _, files in sorted(os.walk(root)):
        if "MLmodel" in files:
            return folder
    raise FileNotFoundError(f"no MLmodel file under {root}")


def init():
    global model
    import mlflow.pyfunc

    root = os.path.join(os.environ["AZUREML_MODEL_DIR"], os.environ.get("MLFLOW_MODEL_FOLDER", ""))
    model = mlflow.pyfunc.load_model(_find_mlmodel(root))


def _read(path: str):
    import pandas as pd

    if path.lower().endswith(".csv"):
        return pd.read_csv(path)
    if path.lower().endswith(".parquet"):
        return pd.read_parquet(path)
    raise ValueError(f"{os.path.basename(path)}: only CSV and Parquet files can be scored")


def run(mini_batch):
    import pandas as pd

    frames = []
    for path in mini_batch:
        data = _read(path)
        predictions = model.predict(data)
        if isinstance(predictions, pd.DataFrame):
            predictions = predictions.iloc[:, 0]
        frames.append(pd.DataFrame({"row": range(len(data)), "prediction": list(predictions),
                                    "file": os.path.basename(path)}))
    return pd.concat(frames) if frames else pd.DataFrame()
