"""`python -m azml_local.serving.manager --prepare`: environments built ahead are the ones used.

A build ahead only helps when its cache key is the key the deployment computes: for an MLflow
model, the environment MLflow records when the example's training step saves its model here.
"""

import numpy as np
import pandas as pd
from azml_local.serving.environments import for_mlflow_model
from azml_local.serving.manager import mlflow_recorded_environment


def test_the_mlflow_environment_built_ahead_is_the_one_a_saved_model_asks_for(tmp_path):
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import Ridge

    x = pd.DataFrame(np.arange(20.0).reshape(10, 2), columns=["a", "b"])
    regressor = Ridge().fit(x, np.arange(10.0))
    # As pipelines/diabetes_training.py saves it.
    mlflow.sklearn.save_model(regressor, str(tmp_path / "model"),
                              signature=infer_signature(x, regressor.predict(x)),
                              serialization_format="cloudpickle")
    assert mlflow_recorded_environment().key() == for_mlflow_model(tmp_path / "model").key()


def test_the_training_step_records_what_mlflow_inference_would(tmp_path):
    # pipelines/diabetes_training.py gives MLflow the requirements instead of letting it infer
    # them (inference loads the model in a new process); the saved model must ask for the same
    # environment as an inferred one, which is the one prepared ahead.
    from kfp import dsl

    from pipelines.diabetes_training import train_diabetes_model

    outputs = {name: cls(uri=str(tmp_path / name)) for name, cls in (
        ("model", dsl.Model), ("code", dsl.Artifact), ("smoke_request", dsl.Artifact),
        ("metrics", dsl.Metrics))}
    for artifact in outputs.values():
        artifact.path = str(tmp_path / artifact.uri.rsplit("/", 1)[-1])
    train_diabetes_model.python_func(scoring_requirements=[], model_format="mlflow", **outputs)
    saved = tmp_path / "model"
    recorded = (saved / "requirements.txt").read_text().splitlines()
    assert recorded == mlflow_recorded_environment().pip
    assert for_mlflow_model(saved).key() == mlflow_recorded_environment().key()
