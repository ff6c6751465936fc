# A single-step training script written in the style of Microsoft's azureml-examples single-step
# command jobs (read: cli/jobs/single-step/scikit-learn/diabetes/src/main.py,
# sdk/python/jobs/single-step/scikit-learn/diabetes/src/main.py and the training script of
# tutorials/get-started-notebooks/train-model.ipynb): argparse flags the job's command fills from
# ${{inputs.*}} / ${{outputs.*}}, a CSV read with pandas, MLflow autologging and explicit metrics
# into the job's run, and the model saved as an MLflow model into the job's output folder. Our
# own code, not a copy of Microsoft's.
import argparse

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split


def parse_args():
    parser = argparse.ArgumentParser(description="Fit a linear regression on a diabetes CSV.")
    parser.add_argument("--diabetes-csv", type=str, required=True,
                        help="CSV with the feature columns and a 'target' column")
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--random-state", type=int, default=7)
    parser.add_argument("--model", type=str, required=True,
                        help="folder to save the MLflow model in (the job's model output)")
    return parser.parse_args()


def held_out_scores(model, features, target):
    predicted = model.predict(features)
    return {
        "test_r2": float(r2_score(target, predicted)),
        "test_rmse": float(np.sqrt(mean_squared_error(target, predicted))),
        "test_mae": float(mean_absolute_error(target, predicted)),
    }


def main(args):
    # The job's MLflow run (Azure ML sets the tracking variables in a job) is started here, as
    # the tutorial's script does: a run autolog started itself would end after fit(), and the
    # metrics logged afterwards would land in a new run instead of the job's.
    with mlflow.start_run():
        # Parameters and training metrics. The model is saved to the output folder rather than
        # logged: Azure's MLflow endpoint has no logged-models API for MLflow 3's log_model
        # (azureml-examples #3885 turns autolog's model logging off for that reason).
        mlflow.autolog(log_models=False)

        frame = pd.read_csv(args.diabetes_csv)
        features, target = frame.drop(columns=["target"]), frame["target"]
        x_train, x_test, y_train, y_test = train_test_split(
            features, target, test_size=args.test_size, random_state=args.random_state)

        model = LinearRegression().fit(x_train, y_train)

        scores = held_out_scores(model, x_test, y_test)
        print("held-out scores:", {name: round(value, 4) for name, value in scores.items()})
        mlflow.log_metrics(scores)

        # The output folder is the MLflow model (MLmodel at its root): it registers as an
        # mlflow_model where the job wrote it and deploys without a scoring script.
        signature = infer_signature(x_train, model.predict(x_train))
        mlflow.sklearn.save_model(model, args.model, signature=signature,
                                  serialization_format="cloudpickle")


if __name__ == "__main__":
    main(parse_args())
