"""The one place where the versions that run inside component containers are pinned.

pyproject.toml's extras repeat these pins for local runs; tests/test_pins.py fails if they differ.
"""

#: Base image of every component: slim keeps pull time down; the Azure SDKs are pure Python.
BASE_IMAGE = "python:3.11-slim"

AZURE_AI_ML = "azure-ai-ml==1.35.2"
AZURE_IDENTITY = "azure-identity==1.27.0"

#: What every Azure-facing component installs at container start.
AZURE_PACKAGES = [AZURE_AI_ML, AZURE_IDENTITY]

#: Azure Monitor's management SDK: the autoscale settings of managed online deployments
#: (runtime/autoscale.py). Only the components that reach that module install it.
AZURE_MGMT_MONITOR = "azure-mgmt-monitor==7.0.0"
MONITOR_PACKAGES = [AZURE_MGMT_MONITOR]

#: Drift metrics (runtime/drift_metrics.py: scipy's distances and tests over numpy arrays). Only
#: the components that reach that module (check_drift, create_monitor) install them.
NUMPY = "numpy==2.4.6"
SCIPY = "scipy==1.17.1"
DRIFT_PACKAGES = [NUMPY, SCIPY]

#: The kfp the components are compiled with (pyproject's dependency); kfp installs it at start.
KFP = "kfp==2.17.3"

#: What the prebuilt image (image/Dockerfile) holds, so image-mode components install nothing.
IMAGE_PACKAGES = [*AZURE_PACKAGES, *MONITOR_PACKAGES, *DRIFT_PACKAGES, KFP]

#: What the example training component installs.
EXAMPLE_PACKAGES = ["scikit-learn==1.9.1", "mlflow-skinny==3.17.2", "pandas==3.1.1"]

#: What a training job's environment adds to log to Azure ML's MLflow tracking: Microsoft's
#: plugin and the MLflow it accepts (azureml-mlflow 1.62.0.post6 requires mlflow-skinny<=3.15.0,
#: azure-storage-blob<=12.27.1 and pytz<=2025.2, so it cannot join EXAMPLE_PACKAGES' newer
#: mlflow-skinny in one environment). Local mode's MLflow tracking server runs the same MLflow
#: version (azml_local.tracking.server.MLFLOW_SERVER; a test compares them).
MLFLOW_TRACKING_PACKAGES = ["mlflow-skinny==3.15.0", "azureml-mlflow==1.62.0.post6"]

#: The example's training job (pipelines/train_on_azure_ml.py): its packages with the tracking
#: pins. pandas stays below 3 there: the job's MLflow model records mlflow==3.15.0, which
#: requires pandas<3, so its serving environment could not be built with EXAMPLE_PACKAGES' pandas.
TRAINING_JOB_PACKAGES = ["scikit-learn==1.9.1", "pandas==2.3.3", *MLFLOW_TRACKING_PACKAGES]

#: The keys of the Kubernetes secret (and the environment variables they become).
CREDENTIAL_ENV_VARS = ["AZ_SUBSCRIPTION_ID", "AZ_TENANT_ID", "AZ_CLIENT_ID", "AZ_CLIENT_SECRET"]

#: What the example's scoring environment (its conda file) asks for; the local stand-in builds
#: scoring environments offline from a wheelhouse that includes these.
EXAMPLE_SCORING_PACKAGES = [
    "azureml-inference-server-http==1.5.1",
    "scikit-learn==1.9.1",
    "joblib==1.6.0",
]
