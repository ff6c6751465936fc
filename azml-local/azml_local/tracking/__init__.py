"""MLflow tracking in local mode: the workspace's MLflow endpoint, as azureml-mlflow reaches it.

- server.py: MLflow's own tracking server (PyPI `mlflow`), a child process started on first use;
- routes.py: the workspace's `/mlflow/v2.0/<workspace>/api/2.0/mlflow/...` routes, checked
  as the workspace checks them and forwarded to that server;
- artifacts.py: the run history's artifact routes azureml-mlflow stores artifacts through;
- runs.py: a job's run (id = the job's name) and the variables its process gets.
"""

from azml_local.tracking.runs import finish_run, job_environment

__all__ = ["finish_run", "job_environment"]
