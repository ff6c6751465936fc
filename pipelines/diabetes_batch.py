"""The batch example's own steps: the held-out table to score, and the check of the scores."""

from kfp import dsl

from azml_components import pins


@dsl.component(base_image=pins.BASE_IMAGE, packages_to_install=pins.EXAMPLE_PACKAGES)
def diabetes_held_out_table(
    table: dsl.Output[dsl.Dataset],
    test_fraction: float = 0.2,
    seed: int = 42,
    files: int = 2,
):
    """Write the diabetes rows the training step held out as CSV files to score in batch.

    Uses the training step's split (same test_fraction and seed), so these rows were never
    trained on. The rows are spread over ``files`` CSV files with a header row.

    Args:
        test_fraction: Share of the data held out (the training step's test_fraction).
        seed: Random seed of the split (the training step's seed).
        files: Number of CSV files to write (batch jobs split work by file).

    Returns:
        table: Folder of CSV files (held_out_0.csv, ...), the model's feature columns.

    """
    import os

    import numpy as np
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    data = load_diabetes(as_frame=True)
    _, x_test, _, _ = train_test_split(data.data, data.target, test_size=test_fraction,
                                       random_state=seed)
    os.makedirs(table.path, exist_ok=True)
    bounds = np.linspace(0, len(x_test), files + 1).astype(int)
    for index in range(files):
        part = x_test.iloc[bounds[index]:bounds[index + 1]]
        part.to_csv(os.path.join(table.path, f"held_out_{index}.csv"), index=False)
    table.metadata["rows"] = int(len(x_test))


@dsl.component(base_image=pins.BASE_IMAGE, packages_to_install=pins.EXAMPLE_PACKAGES)
def check_batch_predictions(
    model: dsl.Input[dsl.Model],
    table: dsl.Input[dsl.Dataset],
    predictions: dsl.Input[dsl.Dataset],
    tolerance: float = 1e-6,
) -> int:
    """Compare the batch endpoint's predictions with the model's own, row by row.

    Reads the append_row output of an MLflow batch deployment (CSV without a header: row,
    prediction, file), predicts every input file with the MLflow model here, and fails when a
    row is missing or a prediction differs by more than ``tolerance``.

    Args:
        model: The MLflow model the training step wrote.
        table: The folder of CSV files that was scored.
        predictions: The score_batch output (holding the predictions file).
        tolerance: Largest absolute difference allowed.

    Returns:
        The number of rows checked.

    """
    import glob
    import os

    import mlflow.pyfunc
    import pandas as pd

    loaded = mlflow.pyfunc.load_model(model.path)
    (scored,) = [p for p in glob.glob(os.path.join(predictions.path, "*")) if os.path.isfile(p)]
    batch = pd.read_csv(scored, names=["row", "prediction", "file"])
    problems, checked = [], 0
    for path in sorted(glob.glob(os.path.join(table.path, "*.csv"))):
        name = os.path.basename(path)
        expected = loaded.predict(pd.read_csv(path))
        got = batch[batch["file"] == name].sort_values("row")
        if len(got) != len(expected):
            problems.append(f"{name}: {len(got)} predictions for {len(expected)} rows")
            continue
        for row, (want, have) in enumerate(zip(expected, got["prediction"], strict=True)):
            checked += 1
            if abs(float(want) - float(have)) > tolerance:
                problems.append(f"{name} row {row}: batch {have}, local {want}")
    if problems or not checked:
        raise RuntimeError("batch predictions differ:\n- " + "\n- ".join(problems or ["none"]))
    print(f"{checked} batch predictions match the model's local predictions")
    return checked
