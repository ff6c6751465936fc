"""Credentials and the client (runtime/azure_client.py)."""

import pytest

from azml_components.runtime.azure_client import azml_credential, azml_subscription_id


def test_partial_service_principal_names_what_is_missing():
    with pytest.raises(ValueError, match="missing AZ_CLIENT_ID, AZ_CLIENT_SECRET"):
        azml_credential({"AZ_TENANT_ID": "t"})


def test_no_service_principal_means_default_chain_without_instance_metadata():
    from azure.identity import DefaultAzureCredential

    credential = azml_credential({"AZML_EXCLUDE_MANAGED_IDENTITY": "1"})
    assert isinstance(credential, DefaultAzureCredential)
    kinds = {type(c).__name__ for c in credential.credentials}
    assert "ManagedIdentityCredential" not in kinds and "EnvironmentCredential" in kinds


def test_subscription_comes_from_the_input_or_the_secret(monkeypatch):
    monkeypatch.setenv("AZ_SUBSCRIPTION_ID", "from-secret")
    assert azml_subscription_id("given") == "given"
    assert azml_subscription_id("") == "from-secret"
    monkeypatch.delenv("AZ_SUBSCRIPTION_ID")
    with pytest.raises(ValueError, match="^subscription_id: required"):
        azml_subscription_id("")
