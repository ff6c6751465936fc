"""promote_to_production: each environment's secret on its tasks (compiled), and a run on local
mode from the dev workspace through the registry to the prod workspace (another resource
group)."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from azure.ai.ml import MLClient

from azml_components.runtime import azml_credential, azml_invoke_endpoint
from pipelines.run_local import run_promotion_locally
from tests.helpers import unique

pytestmark = pytest.mark.timeout(900)
COMPILED = Path(__file__).resolve().parents[2] / "compiled/pipelines/promote_to_production.yaml"


def test_each_environment_secret_is_on_its_tasks():
    _, platform = yaml.safe_load_all(COMPILED.read_text())
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    secrets = {name.removeprefix("exec-"): [s["secretName"] for s in spec.get("secretAsEnv", [])]
               for name, spec in executors.items()}
    assert secrets == {
        "register-model": ["azcreds-dev"],
        "promote-model": ["azcreds-dev"],
        "evaluate-against-serving": ["azcreds-prod"],
        "safe-rollout": ["azcreds-prod"],
        "recover-rollout": ["azcreds-prod"],
    }


def test_promotion_runs_from_dev_through_the_registry_to_prod(standin, tmp_path):
    endpoint = unique("prod-promo")
    run = run_promotion_locally(
        tmp_path, task_log=tmp_path / "tasks.log",
        dev_resource_group=standin.workspace["resource_group"],
        dev_workspace_name=standin.workspace["workspace_name"], registry_name=standin.registry,
        prod_resource_group=standin.prod_workspace["resource_group"],
        prod_workspace_name=standin.prod_workspace["workspace_name"],
        endpoint_name=endpoint, new_deployment_name="green", model_name=unique("promo"),
    )
    rows = json.loads(next(run.glob("held-out-rows/rows")).read_text())
    answer = azml_invoke_endpoint(**standin.prod_workspace, endpoint_name=endpoint,
                                  payload=json.dumps({"data": rows["data"][:4]}))
    assert answer["problems"] == []
    # The prod deployment serves the registry's model, which records where it came from.
    client = MLClient(azml_credential(), standin.prod_workspace["subscription_id"],
                      standin.prod_workspace["resource_group"],
                      standin.prod_workspace["workspace_name"])
    model_id = client.online_deployments.get("green", endpoint).model
    assert model_id.startswith(f"azureml://registries/{standin.registry}/models/")
    name, version = model_id.split("/models/")[1].split("/versions/")
    in_registry = MLClient(azml_credential(), registry_name=standin.registry).models.get(
        name, version)
    assert in_registry.properties["azml_source_model_id"].lower().startswith(
        f"/subscriptions/{standin.workspace['subscription_id']}/resourcegroups/"
        f"{standin.workspace['resource_group']}/".lower())
    assert in_registry.properties["kfp_pipeline"]
    assert np.isfinite(answer["response"]).all()
    # Neither principal's secret is in anything the run left (logs, artifacts, metadata).
    secrets = [standin.env["AZ_CLIENT_SECRET"], standin.prod_credentials[1]]
    for path in [tmp_path / "tasks.log", *run.rglob("*")]:
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not any(secret in text for secret in secrets), path
