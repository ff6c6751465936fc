"""Azure ML's curated environments, resolved by name to the package sets Microsoft documents.

Curated environments live in the `azureml` registry; deployments name them as
`azureml://registries/azureml/environments/<name>/versions/<v>` (or `/labels/latest`) or, in the
short form the SDK passes through untouched for the backend to expand,
`azureml:AzureML-<name>@latest` / `azureml:AzureML-<name>:<v>`
(azure.ai.ml operations/_operation_orchestrator.py, CURATED_ENV_PREFIX "AzureML-").

Their definitions are published in github.com/Azure/azureml-assets (each environment's
context/conda_dependencies.yaml, requirements.txt and Dockerfile; read at commit 4b41f8cc,
2026-07-23). Azure runs the published image; the stand-in has no images, so it builds the
packages a scoring process needs from each definition: the framework the environment is named
for, with the documented pins, and the inference server. Left out, and said in the deployment
log: the training tooling the images also carry (azureml-core, azureml-defaults' SDK half,
azureml-mlflow, azureml-telemetry, tensorboard, debugpy, py-spy, ipykernel, matplotlib, CVE
floor pins), CUDA libraries (`tensorflow[and-cuda]` becomes `tensorflow`: the stand-in has no
GPU), and the conda-section pins of numpy/scipy/pandas, which the definitions choose for the
image's Python (numpy~=1.22.0 has no wheels for Python >= 3.11): those three resolve to what
the framework accepts on the stand-in's Python. `azureml-inference-server-http=={{latest}}`
becomes unpinned (the index's newest, as at image publication); environments that get the
server only through azureml-defaults (sklearn-1.0/1.1, lightgbm-3.3, tensorflow-2.16) get
`azureml-inference-server-http~=1.4`, azureml-defaults 1.62.0's requirement.

Microsoft removed the CPU-only PyTorch/TensorFlow/XGBoost inference environments
(`*-ubuntu18.04-py37-cpu-inference`) from the registry in June 2022 (azureml-assets #103), so
today's PyTorch and TensorFlow families are the GPU ones below and XGBoost ships in lightgbm-3.3.
Any other registry environment fails provisioning with a message naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SOURCE = "https://github.com/Azure/azureml-assets/tree/4b41f8ccbc01cf492767adc586ce1661c54c340a/"
_NUMERIC = ("numpy", "scipy", "pandas")
_SERVER = "azureml-inference-server-http"
_SERVER_VIA_DEFAULTS = "azureml-inference-server-http~=1.4"


@dataclass(frozen=True)
class Curated:
    """One curated environment: its documented Python and the packages the stand-in installs."""

    name: str
    python: str
    conda: tuple[str, ...]  # the definition's conda section (kept packages, unpinned)
    pip: tuple[str, ...]  # its pip section (kept packages, documented pins)
    path: str  # the definition in azureml-assets

    def conda_file(self) -> dict:
        """The package set as a conda environment file."""
        return {"name": self.name, "channels": ["conda-forge"],
                "dependencies": [f"python={self.python}", *self.conda, {"pip": list(self.pip)}]}


_TRAINING = "assets/training/general/environments/"
_INFERENCE = "assets/inference/environments/"
TABLE = {
    entry.name: entry
    for entry in (
        Curated("sklearn-1.5", "3.10",
                _NUMERIC, (_SERVER, "scikit-learn~=1.5.0", "joblib~=1.2.0"),
                _TRAINING + "sklearn-1.5"),
        Curated("sklearn-1.1", "3.9",
                _NUMERIC, (_SERVER_VIA_DEFAULTS, "scikit-learn~=1.1.0", "joblib~=1.2.0"),
                _TRAINING + "sklearn-1.1"),
        Curated("sklearn-1.0", "3.9",
                _NUMERIC, (_SERVER_VIA_DEFAULTS, "scikit-learn~=1.0.0", "joblib~=1.2.0"),
                _TRAINING + "sklearn-1.0"),
        Curated("lightgbm-3.3", "3.10",
                _NUMERIC, (_SERVER_VIA_DEFAULTS, "scikit-learn~=1.5.1", "xgboost~=1.7.6",
                 "lightgbm>=4.6.0"),
                _TRAINING + "lightgbm-3.3"),
        Curated("tensorflow-2.16-cuda12", "3.11",
                _NUMERIC, (_SERVER_VIA_DEFAULTS, "tensorflow==2.16.2", "keras>=3.13.2",
                 "tf-keras==2.16.0"),
                _TRAINING + "tensorflow-2.16-cuda12"),
        Curated("tensorflow-2.16-cuda11", "3.11",
                _NUMERIC, (_SERVER_VIA_DEFAULTS, "tensorflow==2.16.2", "keras>=3.12.1",
                 "tf-keras==2.16.0"),
                _TRAINING + "tensorflow-2.16-cuda11"),
        # torch 2.8.0 comes with the base image (stable-ubuntu2204-cu126-py310-torch280).
        Curated("acpt-pytorch-2.8-cuda12.6", "3.10",
                (), (_SERVER, "inference-schema", "torch==2.8.0", "transformers"),
                _TRAINING + "acpt-pytorch-2.8-cuda12.6"),
        Curated("minimal-py311-inference", "3.11",
                (), (_SERVER, "azure-storage-blob", "azure-identity", "numpy", "joblib"),
                _INFERENCE + "minimal-py311-inference"),
        # The MLflow inference image: no-code MLflow deployments on Azure start from it.
        Curated("mlflow-py312-inference", "3.12",
                (), (_SERVER, "azureml-ai-monitoring", "mlflow", "scikit-learn", "cloudpickle",
                 "psutil", "pandas", "numpy", "joblib"),
                _INFERENCE + "mlflow-py312-inference"),
    )
}

_REGISTRY = re.compile(
    r"^azureml://registries/(?P<registry>[^/]+)/environments/(?P<name>[^/]+)"
    r"(?:/(?P<kind>versions|labels)/(?P<version>[^/]+))?/?$", re.IGNORECASE)
_SHORT = re.compile(r"^(?:azureml:)?AzureML-(?P<name>[^:@/]+)(?:[:@](?P<version>.+))?$")
_ARM = re.compile(r"/environments/AzureML-(?P<name>[^/]+)/versions/(?P<version>[^/]+)$",
                  re.IGNORECASE)


class UnknownEnvironment(LookupError):
    """A registry or curated environment the stand-in cannot resolve (message names it)."""


def is_curated_or_registry(environment_id: str) -> bool:
    """Whether `environment_id` names a registry or curated environment (not a workspace one)."""
    text = environment_id.strip()
    return bool(_REGISTRY.match(text) or _SHORT.match(text) or _ARM.search(text))


def resolve(environment_id: str) -> tuple[Curated, str]:
    """(curated environment, the deployment-log note) for a registry or curated id."""
    text = environment_id.strip()
    match = _REGISTRY.match(text)
    if match and match.group("registry").lower() != "azureml":
        raise UnknownEnvironment(
            f"Environment '{environment_id}' could not be found in registry "
            f"'{match.group('registry')}'.")
    match = match or _SHORT.match(text) or _ARM.search(text)
    if not match:
        raise UnknownEnvironment(f"Environment '{environment_id}' is not a registry id.")
    name, version = match.group("name"), match.group("version") or "latest"
    entry = TABLE.get(name)
    if entry is None:
        raise UnknownEnvironment(
            f"Curated environment '{name}' ({environment_id}) is not one the stand-in can "
            f"build; it knows {', '.join(sorted(TABLE))}.")
    note = (f"curated environment {name} ({version}): Azure runs its published image; the "
            f"stand-in installs its scoring packages as documented in {SOURCE}{entry.path} "
            f"({', '.join(entry.conda + entry.pip)})")
    return entry, note
