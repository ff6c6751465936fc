"""What Azure ML's MLflow endpoint does not support, refused before MLflow's server sees it.

Microsoft's support matrix ("Query & compare experiments and runs with MLflow", section "Support
matrix for querying runs and experiments", learn.microsoft.com/azure/machine-learning/
how-to-track-experiments-mlflow) lists what MLflow's own server does and Azure ML does not:
ordering runs by metrics, parameters or tags; filtering with `LIKE`/`ILIKE`; `!=` on tags;
renaming experiments. (`OR` neither supports.) MLflow's server would answer them, so local mode
refuses them first, with MLflow's error shape (400, INVALID_PARAMETER_VALUE): the page gives no
wording for Azure's answer, so the message is ours and names the rule.

Some of MLflow's routes Azure's endpoint does not serve at all, and answers 404 with an empty
body (`not_served`): MLflow 3's logged models (`/api/2.0/mlflow/logged-models...`, which
`mlflow.<flavor>.log_model` calls: "API request to endpoint /api/2.0/mlflow/logged-models failed
with error code 404 != 200. Response body: ''", Azure/azure-sdk-for-python#44896; "the
logged-models API ... not supported by AzureML tracking server", Azure/azureml-examples#3885,
which logs with save_model + log_artifacts instead), and MLflow's 3.0 API (azureml-mlflow
_store/azureml_reststore.py: "V3 API not implemented yet").
"""

from __future__ import annotations

import json
import re
from typing import Any

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")
_LIKE = re.compile(r"\bi?like\b", re.IGNORECASE)
_TAG_NOT_EQUAL = re.compile(r"\btags\.(?:''|\w+)\s*!=", re.IGNORECASE)
_ORDER_BY_VALUES = re.compile(r"^\s*(?:metrics|params|tags|metric|param|tag)\.", re.IGNORECASE)
_NOT_SERVED = re.compile(r"^(?:3\.0/|2\.0/mlflow/logged-models(?:/|$))")


def not_served(path: str) -> bool:
    """Whether Azure's endpoint has no such route (see the module docstring).

    Args:
        path: The MLflow REST path after `/api/`, e.g. `2.0/mlflow/logged-models`.
    """
    return bool(_NOT_SERVED.match(path))


def unsupported(path: str, body: Any) -> str:
    """Why Azure ML would not take this MLflow request ('' when it would).

    Args:
        path: The MLflow REST path after `/api/`, e.g. `2.0/mlflow/runs/search`.
        body: The request's JSON body (None when there is none).
    """
    if not isinstance(body, dict):
        return ""
    if path.endswith("/mlflow/experiments/update") and body.get("new_name"):
        return "Renaming experiments is not supported by Azure Machine Learning."
    if not path.endswith("/mlflow/runs/search"):
        return ""
    for order in body.get("order_by") or []:
        if isinstance(order, str) and _ORDER_BY_VALUES.match(order):
            return (f"Ordering runs by metrics, parameters or tags ({order!r}) is not supported "
                    "by Azure Machine Learning.")
    text = _QUOTED.sub("''", str(body.get("filter") or ""))
    if _LIKE.search(text):
        return "Filtering runs with LIKE or ILIKE is not supported by Azure Machine Learning."
    if _TAG_NOT_EQUAL.search(text):
        return "Filtering runs with != on tags is not supported by Azure Machine Learning."
    return ""


def refusal(reason: str) -> bytes:
    """MLflow's error body for `reason` (its REST API's error shape)."""
    return json.dumps({"error_code": "INVALID_PARAMETER_VALUE", "message": reason}).encode()
