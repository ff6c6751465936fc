"""The demo on your own Azure ML workspace: unique names, what it costs, and the clean-up.

`nox -s demo -- --subscription S --resource-group G --workspace W` (pipelines/run_local.py)
runs the example pipelines against that workspace instead of local mode. Credentials come from
the same variables as the `azcreds` secret (AZ_TENANT_ID, AZ_CLIENT_ID, AZ_CLIENT_SECRET), or,
with none of them set, azure-identity's default chain (azml_components.runtime.azml_credential).
Nothing here reads local mode's variables: the only way to point it at another cloud is the
SDK's own (ARM_CLOUD_METADATA_URL, AZURE_AUTHORITY_HOST), which is how the tests run it.
"""

import secrets
import time
from typing import NamedTuple

#: Pay-as-you-go list price in USD per instance-hour of the VM sizes the demo deploys to
#: (Linux, East US), from the Azure Retail Prices API (https://prices.azure.com/api/retail/prices,
#: serviceName "Virtual Machines", armSkuName as below) and the Linux VM pricing page
#: (https://azure.microsoft.com/pricing/details/virtual-machines/linux/). A managed online
#: deployment is billed for the VMs it runs on ("Plan to manage costs for Azure Machine
#: Learning", learn.microsoft.com/azure/machine-learning/concept-plan-manage-cost). Your region,
#: agreement and currency change the figure: it is an order of magnitude, not a quote.
PRICE_PER_HOUR_USD = {
    "Standard_DS3_v2": 0.293,
}
#: What deploy_model deploys to when instance_type is empty (its documented default).
DEFAULT_INSTANCE_TYPE = "Standard_DS3_v2"


class Workspace(NamedTuple):
    """The workspace the demo runs on, and the suffix that makes this run's names unique."""

    subscription_id: str
    resource_group: str
    workspace_name: str
    suffix: str  # "" on local mode (names as before); "-<8 hex>" on your own workspace

    def name(self, base: str) -> str:
        """Return `base` made unique to this run (endpoint names are unique per region)."""
        return f"{base}{self.suffix}"

    def arguments(self) -> dict:
        """Return the pipeline arguments that name the workspace."""
        return {"subscription_id": self.subscription_id, "resource_group": self.resource_group,
                "workspace_name": self.workspace_name}


def own_workspace(subscription_id: str, resource_group: str, workspace_name: str) -> Workspace:
    """Return the workspace given on the command line, with a fresh suffix for names."""
    missing = [flag for flag, value in (("--subscription", subscription_id),
                                        ("--resource-group", resource_group),
                                        ("--workspace", workspace_name)) if not value]
    if missing:
        raise ValueError(f"your own workspace needs {', '.join(missing)} too")
    return Workspace(subscription_id, resource_group, workspace_name,
                     f"-{secrets.token_hex(4)}")


def cost_lines(endpoints: list, instance_type: str = DEFAULT_INSTANCE_TYPE,
               instances: int = 1) -> list:
    """Return what leaving the deployments running costs: a line per endpoint, a total."""
    price = PRICE_PER_HOUR_USD.get(instance_type)
    if price is None:
        return [f"  {len(endpoints)} deployment(s) on {instance_type}: no price in our table "
                "(see https://azure.microsoft.com/pricing/details/virtual-machines/linux/)"]
    lines = [f"  online endpoint {name}: {instances} x {instance_type} at about "
             f"${price:.3f}/hour" for name in endpoints]
    total = price * instances * len(endpoints)
    lines.append(f"  left running: about ${total:.2f}/hour, ${total * 24:.2f}/day "
                 "(list price, East US, Linux; the demo deletes them at the end)")
    return lines


def clean_up(workspace: Workspace, endpoints: list, models: list, batch_endpoints: tuple = (),
             timeout: float = 900) -> list:
    """Delete this run's endpoints (their deployments with them) and model versions.

    Only names carrying this run's suffix are touched. A deletion Azure refuses for now (an
    operation still running on the endpoint: 409) is tried again until `timeout`. Returns what
    could not be removed (empty when everything was).
    """
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

    from azml_components.runtime import azml_credential

    client = _client(workspace, azml_credential())
    left, deadline = [], time.monotonic() + timeout
    kinds = [("online endpoint", client.online_endpoints, e) for e in endpoints]
    kinds += [("batch endpoint", client.batch_endpoints, e) for e in batch_endpoints]
    for kind, operations, endpoint in kinds:
        while True:
            try:
                # ARM answers a DELETE of a missing resource with 204: look first, so only
                # what exists is reported deleted.
                operations.get(endpoint)
                operations.begin_delete(name=endpoint).result()
                print(f"[demo] deleted {kind} {endpoint}", flush=True)
                break
            except ResourceNotFoundError:
                break  # never created, or gone already
            except HttpResponseError as error:
                if time.monotonic() > deadline:
                    left.append(f"{kind} {endpoint} ({error.message})")
                    break
                time.sleep(5)  # e.g. 409 while a deployment is still being created
    for model in models:
        try:
            versions = [m.version for m in client.models.list(name=model)]
        except ResourceNotFoundError:
            versions = []
        for version in versions:
            try:
                _delete_model_version(client, workspace, model, version)
                print(f"[demo] deleted model {model}:{version}", flush=True)
            except HttpResponseError as error:
                left.append(f"model {model}:{version} ({error.message})")
    return left


def _client(workspace: Workspace, credential):
    from azure.ai.ml import MLClient

    return MLClient(credential, workspace.subscription_id, workspace.resource_group,
                    workspace.workspace_name)


def _delete_model_version(client, workspace: Workspace, model: str, version: str) -> None:
    # azure-ai-ml 1.35 has models.archive but no delete; the REST API has one
    # (ModelVersions_Delete: DELETE .../workspaces/W/models/N/versions/V, REST spec
    # machinelearningservices stable 2024-04-01), which the SDK's generated client calls.
    client.models._model_versions_operation.delete(
        name=model, version=version, resource_group_name=workspace.resource_group,
        workspace_name=workspace.workspace_name)
