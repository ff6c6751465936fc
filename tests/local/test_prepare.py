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
