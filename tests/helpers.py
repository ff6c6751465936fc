"""Shared test material: small real models and the workspace the stand-in pre-creates."""

import json
import os
import re
import uuid
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

SCORE_PY = """\
import json
import os

import joblib
import numpy as np

model = None


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "model.joblib"))


def run(raw_data):
    return model.predict(np.asarray(json.loads(raw_data)["data"], dtype=float)).tolist()
"""

CONDA_YAML = """\
name: scoring
dependencies:
  - python=3.11
  - pip
  - pip:
    - azureml-inference-server-http==1.5.1
    - scikit-learn==1.9.1
    - joblib==1.6.0
"""


def workspace() -> dict:
    return {
        "subscription_id": os.environ["AZ_SUBSCRIPTION_ID"],
        "resource_group": os.environ["AZML_LOCAL_RESOURCE_GROUP"],
        "workspace_name": os.environ["AZML_LOCAL_WORKSPACE"],
    }


def diabetes_rows(count: int = 4) -> np.ndarray:
    return load_diabetes().data[-count:].astype(float)


def train_ridge(alpha: float = 0.5) -> Ridge:
    data = load_diabetes()
    return Ridge(alpha=alpha).fit(data.data[:-20], data.target[:-20])


def write_custom_model(root: Path, alpha: float = 0.5, init_raises: bool = False) -> tuple:
    """Write model/model.joblib and code/; return (model_dir, code_dir, model)."""
    model = train_ridge(alpha)
    model_dir = root / "model"
    model_dir.mkdir(parents=True)
    joblib.dump(model, model_dir / "model.joblib")
    code_dir = root / "code"
    code_dir.mkdir()
    script = SCORE_PY
    if init_raises:
        script = script.replace("    global model\n", "    raise RuntimeError('init exploded')\n")
    (code_dir / "score.py").write_text(script)
    (code_dir / "conda.yaml").write_text(CONDA_YAML)
    return model_dir, code_dir, model


def data_payload(rows: np.ndarray) -> str:
    return json.dumps({"data": rows.tolist()})


def ml_client():
    """An MLClient for the stand-in's workspace, built the way the components build theirs."""
    from azure.ai.ml import MLClient

    from azml_components.runtime import azml_credential

    ws = workspace()
    return MLClient(azml_credential(), ws["subscription_id"], ws["resource_group"],
                    ws["workspace_name"])


def unique(prefix: str) -> str:
    """A resource name no other test uses: `prefix` and six random hex digits.

    Tests run in random order against one stand-in per session, so every test names its own
    endpoints and models (endpoint names are at most 32 characters: keep prefixes short).
    """
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


# POST actions that only read (ARM's list* convention, a deployment's logs, an endpoint token).
READ_ONLY_ACTIONS = ("/listKeys", "/listSecrets", "/getLogs", "/token")


def azure_writes(requests: list) -> list:
    """The requests of a stand-in request log that would change something in Azure: ARM writes,
    and batch jobs submitted to a batch endpoint (its data plane: POST .../jobs)."""
    return [r for r in requests if r["method"] in ("PUT", "POST", "PATCH", "DELETE")
            and (r["path"].startswith("/subscriptions/")
                 or (r["method"] == "POST" and re.fullmatch(r"/batchEndpoints/[^/]+/jobs",
                                                            r["path"], re.IGNORECASE)))
            and not (r["method"] == "POST" and r["path"].endswith(READ_ONLY_ACTIONS))]


def collected(client, prefix: str) -> dict:
    """The data collector's JSON Lines files under `prefix` in the workspace's blob store
    ({blob name: [event, ...]}), read as any user would: through the datastore's account."""
    from azure.storage.blob import BlobServiceClient

    store = client.datastores.get("workspaceblobstore", include_secrets=True)
    account = f"{store.protocol or 'https'}://{store.account_name}.blob.{store.endpoint}"
    found = {}
    with BlobServiceClient(account, credential=store.credentials.account_key) as service:
        container = service.get_container_client(store.container_name)
        for blob in container.list_blobs(name_starts_with=prefix):
            text = container.download_blob(blob.name).readall().decode()
            found[blob.name] = [json.loads(line) for line in text.splitlines() if line]
    return found


def wait_for_collected(client, prefix: str, count: int) -> dict:
    """collected() once `count` events are there (collection is asynchronous: the collector's
    worker thread, then the sidecar's writer), or what is there after a generous while."""
    import time

    deadline = time.monotonic() + 120
    while True:
        found = collected(client, prefix)
        if sum(len(v) for v in found.values()) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.5)
