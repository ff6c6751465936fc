from __future__ import annotations

import pytest
from azml_local.fixture import LocalAzureML
from azure.ai.ml import MLClient
from azure.identity import ClientSecretCredential


def make_credential(env: dict[str, str], secret: str | None = None) -> ClientSecretCredential:
    # Never DefaultAzureCredential here: its managed-identity step calls 169.254.169.254.
    return ClientSecretCredential(
        env["AZ_TENANT_ID"],
        env["AZ_CLIENT_ID"],
        secret or env["AZ_CLIENT_SECRET"],
        authority=env["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,  # MSAL would ask login.microsoftonline.com otherwise
    )


def make_client(env: dict[str, str], secret: str | None = None) -> MLClient:
    return MLClient(
        make_credential(env, secret),
        subscription_id=env["AZ_SUBSCRIPTION_ID"],
        resource_group_name=env["AZML_LOCAL_RESOURCE_GROUP"],
        workspace_name=env["AZML_LOCAL_WORKSPACE"],
    )


@pytest.fixture(scope="session")
def ml_client(standin: LocalAzureML) -> MLClient:
    return make_client(standin.env)
