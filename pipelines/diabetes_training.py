"""The example's training step: a small scikit-learn model on a data set scikit-learn ships."""

from typing import NamedTuple

from kfp import dsl

from azml_components import pins


@dsl.component(base_image=pins.BASE_IMAGE, packages_to_install=pins.EXAMPLE_PACKAGES)
def train_diabetes_model(
    scoring_requirements: list,
    model: dsl.Output[dsl.Model],
    code: dsl.Output[dsl.Artifact],
    smoke_request: dsl.Output[dsl.Dataset],
    metrics: dsl.Output[dsl.Metrics],
    model_format: str = "mlflow",
    alpha: float = 0.1,
    test_fraction: float = 0.2,
    smoke_rows: int = 5,
    seed: int = 42,
) -> NamedTuple("Outputs", [("model_type", str)]):
    """Train a ridge regression on scikit-learn's diabetes data set.

    Writes the model either as an MLflow model (deployable without code) or as a joblib file
    with a scoring script and conda file (Azure ML's entry script and environment), and a
    request body of held-out rows for the smoke test, in the shape the chosen deployment takes.

    Args:
        scoring_requirements: pip requirements of the custom scoring environment (pass
            azml_components.pins.EXAMPLE_SCORING_PACKAGES).
        model_format: mlflow (an MLflow model folder) or custom (model.joblib plus code).
        alpha: Ridge regularisation strength.
        test_fraction: Share of rows held out for evaluation.
        smoke_rows: Held-out rows put into the smoke-test request.
        seed: Random seed of the train/test split.

    Returns:
        model: The trained model (a folder).
        code: Scoring script score.py and conda.yaml (custom format; empty for mlflow).
        smoke_request: JSON request body with held-out rows; its metadata holds the
            predictions the model gives for them.
        metrics: r2, rmse and mae on the held-out rows.
        model_type: The Azure ML model type to register it as.

    """
    import atexit
    import gc
    import json
    import os
    from collections import namedtuple

    # The interpreter's last garbage collections of scikit-learn's, pandas' and MLflow's objects
    # took 0.5 to 1.4 s at exit in the demo; the outputs are written by then (as in every azml
    # component).
    atexit.register(gc.freeze)

    import numpy as np
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
    from sklearn.model_selection import train_test_split

    if model_format not in ("mlflow", "custom"):
        raise ValueError(f"model_format: {model_format!r} is not one of mlflow, custom")
    data = load_diabetes(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=test_fraction, random_state=seed
    )
    regressor = Ridge(alpha=alpha).fit(x_train, y_train)
    predicted = regressor.predict(x_test)
    scores = {
        "r2": float(r2_score(y_test, predicted)),
        "rmse": float(np.sqrt(mean_squared_error(y_test, predicted))),
        "mae": float(mean_absolute_error(y_test, predicted)),
    }
    for name, value in scores.items():
        metrics.log_metric(name, round(value, 4))
    rows = x_test.head(smoke_rows)
    os.makedirs(code.path, exist_ok=True)
    if model_format == "mlflow":
        from importlib.metadata import PackageNotFoundError, version

        import mlflow.sklearn
        from mlflow.models import infer_signature

        signature = infer_signature(x_train, regressor.predict(x_train))
        # The requirements MLflow's inference records for this model, given so that it need not
        # run: it loads the model in a new process to see what it imports (3 of the task's 4 s).
        recorded = []
        for name in ("cloudpickle", "pandas", "psutil", "scikit-learn"):
            try:
                recorded.append(f"{name}=={version(name)}")
            except PackageNotFoundError:
                continue  # inference records only what is installed
        # cloudpickle: mlflow-skinny's own dependency, so the serving side needs nothing more
        # (MLflow 3's default, skops, would add a package to both sides).
        mlflow.sklearn.save_model(
            regressor, model.path, signature=signature, serialization_format="cloudpickle",
            pip_requirements=recorded,
        )
        request = {
            "input_data": {
                "columns": list(rows.columns),
                "index": [int(i) for i in rows.index],
                "data": rows.astype(float).values.tolist(),
            }
        }
        model_type = "mlflow_model"
        with open(os.path.join(code.path, "README.txt"), "w") as out:
            out.write("MLflow models deploy without code in Azure ML.\n")
    else:
        import joblib

        os.makedirs(model.path, exist_ok=True)
        joblib.dump(regressor, os.path.join(model.path, "model.joblib"))
        request = {"data": rows.astype(float).values.tolist()}
        model_type = "custom_model"
        with open(os.path.join(code.path, "score.py"), "w") as out:
            out.write(
                "import json\n"
                "import os\n\n"
                "import joblib\n"
                "import numpy as np\n\n"
                "model = None\n\n\n"
                "def init():\n"
                "    # Azure ML mounts the registered model under AZUREML_MODEL_DIR.\n"
                "    global model\n"
                "    root = os.environ['AZUREML_MODEL_DIR']\n"
                "    for folder, _, files in os.walk(root):\n"
                "        if 'model.joblib' in files:\n"
                "            model = joblib.load(os.path.join(folder, 'model.joblib'))\n"
                "            return\n"
                "    raise FileNotFoundError(f'model.joblib not found under {root}')\n\n\n"
                "def run(raw_data):\n"
                "    rows = np.asarray(json.loads(raw_data)['data'], dtype=float)\n"
                "    return model.predict(rows).tolist()\n"
            )
        with open(os.path.join(code.path, "conda.yaml"), "w") as out:
            out.write("name: diabetes-scoring\nchannels: [conda-forge]\ndependencies:\n")
            out.write("  - python=3.11\n  - pip\n  - pip:\n")
            out.writelines(f"    - {requirement}\n" for requirement in scoring_requirements)
    with open(smoke_request.path, "w") as out:
        json.dump(request, out)
    smoke_request.metadata["expected_predictions"] = [
        round(float(p), 6) for p in regressor.predict(rows)
    ]
    model.metadata.update({"framework": "scikit-learn", "algorithm": "Ridge", **scores})
    outputs = namedtuple("Outputs", ["model_type"])
    return outputs(model_type)
