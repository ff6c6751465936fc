"""Local mode: an Azure ML workspace on 127.0.0.1 for testing pipelines before they touch Azure.

The real azure-ai-ml, azure-identity and azure-storage-blob code talks to it over https: an ARM
control plane and Entra-style token endpoint of our own, Azurite (Microsoft's storage emulator)
for blobs, and azureml-inference-server-http (what Azure ML itself runs) for scoring. It is its
own distribution, ``azml-local`` (``pip install ./azml-local`` from this repository), and imports
neither kfp nor azml_components; Node.js and npm are needed (Azurite is installed from npm on first
use).

From a shell, ``python -m azml_local`` starts one and prints the ``export`` lines. From
Python (a script or a pytest fixture)::

    from azml_local import local_azure_ml

    with local_azure_ml() as azure:          # os.environ points the SDK at it until the end
        my_pipeline(**azure.workspace, ...)  # e.g. under kfp.local

Importing ``azml_components`` imports neither this package nor the Azure SDK.
"""


from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from azml_local.fixture import LocalAzureML, LocalAzureMLError, start

__version__ = "0.1.0"

__all__ = ["LocalAzureML", "LocalAzureMLError", "local_azure_ml", "start"]


@contextlib.contextmanager
def local_azure_ml(
    state_dir: str | Path | None = None, apply_env: bool = True
) -> Iterator[LocalAzureML]:
    """Start a local Azure ML for the duration of a ``with`` block.

    Args:
        state_dir: Where it keeps its state (resources, blobs, certificates); a fresh temporary
            folder, removed at the end, when None. Reusing a folder keeps what was created.
        apply_env: Point this process (and the processes it starts, such as kfp.local tasks) at
            it by setting ``os.environ``; the previous environment is restored at the end.

    Yields:
        The running service: ``.env`` (the variables to export), ``.workspace`` (subscription_id,
        resource_group, workspace_name), ``.url`` and test controls (request log, faults).
    """
    with contextlib.ExitStack() as stack:
        if state_dir is None:
            state_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="azml-local-"))
        service = stack.enter_context(start(Path(state_dir)))
        if apply_env:
            saved = dict(os.environ)
            stack.callback(lambda: (os.environ.clear(), os.environ.update(saved)))
            os.environ.update(service.env)
            # The SDK caches the cloud it resolved in this variable; a stale value would win.
            os.environ.pop("AZUREML_CURRENT_CLOUD", None)
        yield service
