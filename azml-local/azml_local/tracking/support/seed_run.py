"""Run by the tracking server's own interpreter (never imported by local mode): make sure the
experiment and the run of a job exist in MLflow's store, the run's id being the job's name.

On Azure ML a job is its MLflow run: `mlflow.get_run(job.name)` reads it (azureml-examples and
Microsoft's MLflow pages do so), and the job's process gets MLFLOW_RUN_ID. MLflow's REST API has
no way to choose a run's id, so this calls MLflow's own SQL store: `create_run` with the id it
would have drawn from uuid4 replaced by the job's name for that one call.

Usage: python seed_run.py DB_URI ARTIFACT_ROOT EXPERIMENT_NAME RUN_ID DISPLAY_NAME
Prints {"experiment_id": ..., "run_id": ...}.
"""

import json
import sys
import time

from mlflow.exceptions import MlflowException
from mlflow.store.tracking import sqlalchemy_store


class _JobName:
    def __init__(self, name: str) -> None:
        self.hex = name


def main(db_uri: str, root: str, experiment_name: str, run_id: str, display_name: str) -> None:
    store = sqlalchemy_store.SqlAlchemyStore(db_uri, root)
    experiment = store.get_experiment_by_name(experiment_name)
    experiment_id = (experiment.experiment_id if experiment is not None
                     else store.create_experiment(experiment_name))
    try:
        run = store.get_run(run_id)
    except MlflowException:
        drawn = sqlalchemy_store.uuid.uuid4
        sqlalchemy_store.uuid.uuid4 = lambda: _JobName(run_id)
        try:
            run = store.create_run(experiment_id, user_id="", start_time=int(time.time() * 1000),
                                   tags=[], run_name=display_name or run_id)
        finally:
            sqlalchemy_store.uuid.uuid4 = drawn
    print(json.dumps({"experiment_id": run.info.experiment_id, "run_id": run.info.run_id}))


if __name__ == "__main__":
    main(*sys.argv[1:6])
