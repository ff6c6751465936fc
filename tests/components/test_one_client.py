"""One MLClient and one credential per component run (structure issue, item 2).

The component functions run in-process against the session's local Azure ML, with azure-ai-ml's
MLClient and azure-identity's ClientSecretCredential counted where they are constructed: a
deploy_model run and a safe_rollout run (which deploys, then smoke-tests after each of its
steps) each build exactly one of each.
"""

from __future__ import annotations

import pytest
from kfp import dsl

from azml_components import deploy_model, safe_rollout
from azml_components.runtime.register import azml_register_model
from tests.helpers import data_payload, diabetes_rows, unique, workspace, write_custom_model

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def constructions(monkeypatch) -> dict:
    from azure.ai.ml import MLClient
    from azure.identity import ClientSecretCredential

    counts = {"MLClient": 0, "credential": 0}
    for cls, key in ((MLClient, "MLClient"), (ClientSecretCredential, "credential")):
        original = cls.__init__

        def counted(self, *args, _original=original, _key=key, **kwargs):
            counts[_key] += 1
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counted)
    return counts


def _outputs(tmp_path) -> dict:
    tmp_path.mkdir(parents=True)
    endpoint = dsl.Artifact(uri=str(tmp_path / "endpoint"))
    report = dsl.Markdown(uri=str(tmp_path / "report.md"))
    return {"endpoint": endpoint, "report": report}


def test_a_deploy_and_a_rollout_each_build_one_client_and_one_credential(
    standin, tmp_path, constructions
):
    model_dir, code_dir, _ = write_custom_model(tmp_path / "m")
    registered = azml_register_model(
        **workspace(), model_name=unique("one-client"), model_path=str(model_dir),
        model_type="custom_model", timeout_seconds=600,
    )
    code = dsl.Artifact(uri=str(code_dir))
    endpoint = unique("one")
    settings = {**workspace(), "endpoint_name": endpoint, "model_id": registered["asset_id"],
                "code": code, "conda_file": "conda.yaml", "timeout_seconds": 600}

    constructions.update(MLClient=0, credential=0)
    deploy_model.python_func(deployment_name="blue", **settings, **_outputs(tmp_path / "d"))
    assert constructions == {"MLClient": 1, "credential": 1}

    constructions.update(MLClient=0, credential=0)
    rollout = safe_rollout.python_func(
        deployment_name="green", payload=data_payload(diabetes_rows()),
        traffic_steps=[50, 100], pipeline_run_id="one-client-run", **settings,
        **_outputs(tmp_path / "r"),
    )
    assert rollout.scoring_uri
    # Three smoke tests (green directly, then green and the endpoint at each of two steps)
    # and every ARM call went through the one client.
    assert constructions == {"MLClient": 1, "credential": 1}
