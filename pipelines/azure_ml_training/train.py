"""Train the diabetes ridge regression as an Azure ML command job; save it as an MLflow model.

Runs in the job's environment (conda.yaml beside it): `python train.py --alpha A --model_dir
${{outputs.model}}`. The data set ships with scikit-learn, so the job reads nothing else. Metrics
go to the job's MLflow run when tracking is set up (Azure ML sets MLFLOW_TRACKING_URI in a job).
"""

import argparse
import os

import mlflow
import mlflow.sklearn
import numpy as np
from mlflow.models import infer_signature
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split


def main() -> None:
    """Train, score on held-out rows, save the MLflow model into --model_dir."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--test_fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--model_dir", required=True)
    args = parser.parse_args()
    data = load_diabetes(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=args.test_fraction, random_state=args.seed)
    regressor = Ridge(alpha=args.alpha).fit(x_train, y_train)
    predicted = regressor.predict(x_test)
    scores = {"r2": float(r2_score(y_test, predicted)),
              "rmse": float(np.sqrt(mean_squared_error(y_test, predicted))),
              "mae": float(mean_absolute_error(y_test, predicted))}
    print("held-out scores:", {k: round(v, 4) for k, v in scores.items()})
    if os.environ.get("MLFLOW_TRACKING_URI"):
        for name, value in scores.items():
            mlflow.log_metric(name, value)
    # The output folder is the MLflow model itself (MLmodel at its root), so it registers as an
    # mlflow_model straight from where the job wrote it. cloudpickle: mlflow-skinny's own
    # dependency, nothing more to install on the serving side.
    signature = infer_signature(x_train, regressor.predict(x_train))
    if os.path.isdir(args.model_dir) and not os.listdir(args.model_dir):
        os.rmdir(args.model_dir)  # save_model wants to create the folder itself
    mlflow.sklearn.save_model(regressor, args.model_dir, signature=signature,
                              serialization_format="cloudpickle")


if __name__ == "__main__":
    main()
