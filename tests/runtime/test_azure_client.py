"""Credentials and the client (runtime/azure_client.py)."""

import pytest

from azml_components.runtime.azure_client import azml_credential, azml_subscription_id

PRINCIPAL = ("AZ_TENANT_ID", "AZ_CLIENT_ID", "AZ_CLIENT_SECRET")


@pytest.mark.parametrize("given", [
    ("AZ_TENANT_ID", "AZ_CLIENT_ID"),  # the README's example: a tenant and client, no secret
    ("AZ_TENANT_ID",),
    ("AZ_CLIENT_ID",),
    ("AZ_CLIENT_SECRET",),
    ("AZ_TENANT_ID", "AZ_CLIENT_SECRET"),
    ("AZ_CLIENT_ID", "AZ_CLIENT_SECRET"),
], ids="+".join)
def test_partial_service_principal_names_each_missing_variable(given):
    missing = ", ".join(n for n in PRINCIPAL if n not in given)
    with pytest.raises(ValueError, match=f"^Azure credentials: incomplete service principal; "
                                         f"missing {missing} "):
        azml_credential(dict.fromkeys(given, "x"))


def test_an_empty_variable_counts_as_missing():
    # The secret mapped from a key that holds nothing is as good as no secret.
    with pytest.raises(ValueError, match="missing AZ_CLIENT_SECRET "):
        azml_credential({"AZ_TENANT_ID": "t", "AZ_CLIENT_ID": "c", "AZ_CLIENT_SECRET": ""})


def test_full_service_principal_with_a_local_authority():
    from azure.identity import ClientSecretCredential

    credential = azml_credential({"AZ_TENANT_ID": "t", "AZ_CLIENT_ID": "c",
                                  "AZ_CLIENT_SECRET": "s",
                                  "AZURE_AUTHORITY_HOST": "https://127.0.0.1:8443"})
    assert isinstance(credential, ClientSecretCredential)
    # azure-identity 1.27 keeps what it was given in these attributes (pinned version).
    assert (credential._tenant_id, credential._client_id, credential._client_credential) == (
        "t", "c", "s")
    assert credential._authority == "https://127.0.0.1:8443"
    # Not a Microsoft host: MSAL must not ask login.microsoftonline.com about it.
    assert credential._instance_discovery is False


@pytest.mark.parametrize("host", ["login.microsoftonline.com", "login.microsoftonline.us",
                                  "login.chinacloudapi.cn", "login.partner.microsoftonline.cn"])
def test_microsoft_authorities_keep_instance_discovery(host):
    credential = azml_credential({"AZ_TENANT_ID": "t", "AZ_CLIENT_ID": "c",
                                  "AZ_CLIENT_SECRET": "s", "AZURE_AUTHORITY_HOST": f"https://{host}"})
    assert credential._instance_discovery is None  # azure-identity's default: on
    assert credential._authority == f"https://{host}"


@pytest.mark.parametrize(("flag", "managed_identity"), [
    ("1", False), ("true", False), ("YES", False), ("", True), ("0", True)])
def test_no_service_principal_means_default_chain(flag, managed_identity):
    from azure.identity import DefaultAzureCredential

    credential = azml_credential({"AZML_EXCLUDE_MANAGED_IDENTITY": flag})
    assert isinstance(credential, DefaultAzureCredential)
    kinds = {type(c).__name__ for c in credential.credentials}
    assert ("ManagedIdentityCredential" in kinds) is managed_identity
    assert "EnvironmentCredential" in kinds


def test_subscription_comes_from_the_input_or_the_secret(monkeypatch):
    monkeypatch.setenv("AZ_SUBSCRIPTION_ID", "from-secret")
    assert azml_subscription_id("given") == "given"
    assert azml_subscription_id("") == "from-secret"
    monkeypatch.delenv("AZ_SUBSCRIPTION_ID")
    with pytest.raises(ValueError, match="^subscription_id: required"):
        azml_subscription_id("")
