"""Kubeflow Pipelines v2 components for Azure Machine Learning.

Importing this package (to build or compile pipelines) needs only kfp; the Azure SDKs are
imported inside the components when they run.
"""

from azml_components.credentials import use_azure_credentials
from azml_components.deploy_model import deploy_model
from azml_components.invoke_endpoint import invoke_endpoint
from azml_components.register_model import register_model

__version__ = "0.1.0"

__all__ = [
    "components",
    "deploy_model",
    "invoke_endpoint",
    "register_model",
    "use_azure_credentials",
]


def components() -> dict:
    """Return every component of the package by name (what ``compiled/components`` holds)."""
    return {
        "deploy_model": deploy_model,
        "invoke_endpoint": invoke_endpoint,
        "register_model": register_model,
    }
