"""Credentials and the client (runtime/azure_client.py)."""

import pytest

from azml_components.runtime.azure_client import azml_credential, azml_subscription_id

GIVEN_SUB = "11111111-2222-3333-4444-555555555555"
SECRET_SUB = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

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
    given, secret = "11111111-2222-3333-4444-555555555555", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    monkeypatch.setenv("AZ_SUBSCRIPTION_ID", secret)
    assert azml_subscription_id(given) == given
    assert azml_subscription_id("") == secret
    # A name instead of the id is refused before any call, naming the field (Azure answers a
    # non-GUID subscription with "workspace not found", which says nothing of the cause).
    with pytest.raises(ValueError, match="^subscription_id: 'my-sub' is not a subscription id"):
        azml_subscription_id("my-sub")
    monkeypatch.setenv("AZ_SUBSCRIPTION_ID", "my-sub")
    with pytest.raises(ValueError, match=r"^subscription_id \(AZ_SUBSCRIPTION_ID\): 'my-sub'"):
        azml_subscription_id("")
    monkeypatch.delenv("AZ_SUBSCRIPTION_ID")
    with pytest.raises(ValueError, match="^subscription_id: required"):
        azml_subscription_id("")


def _shared_cache_kwargs(credential) -> dict:
    # What DefaultAzureCredential handed its shared-token-cache step (azure-identity 1.27).
    (shared,) = [c for c in credential.credentials
                 if type(c).__name__ == "SharedTokenCacheCredential"]
    return shared._credential._client_kwargs


@pytest.mark.parametrize(("authority", "discovery_off"), [
    ("https://127.0.0.1:8443", True), ("https://login.microsoftonline.com", False), ("", False)])
def test_default_chain_switches_instance_discovery_off_for_other_authorities(authority,
                                                                          discovery_off):
    env = {"AZML_EXCLUDE_MANAGED_IDENTITY": "1"}
    if authority:
        env["AZURE_AUTHORITY_HOST"] = authority
    kwargs = _shared_cache_kwargs(azml_credential(env))
    assert kwargs.get("disable_instance_discovery", False) is discovery_off


def test_the_default_chain_keeps_managed_identity_without_the_flag():
    kinds = {type(c).__name__ for c in azml_credential({}).credentials}
    assert "ManagedIdentityCredential" in kinds


def test_service_principal_without_an_authority_uses_azures(monkeypatch):
    # The session's local Azure ML sets AZURE_AUTHORITY_HOST when it has started before this
    # test (random order): without it, Azure's public cloud.
    monkeypatch.delenv("AZURE_AUTHORITY_HOST", raising=False)
    credential = azml_credential({"AZ_TENANT_ID": "t", "AZ_CLIENT_ID": "c",
                                  "AZ_CLIENT_SECRET": "s"})
    assert credential._authority == "https://login.microsoftonline.com"
    assert credential._instance_discovery is None


def test_the_process_environment_is_read_when_none_is_given(monkeypatch):
    for name in PRINCIPAL:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZ_TENANT_ID", "t")
    with pytest.raises(ValueError, match="missing AZ_CLIENT_ID, AZ_CLIENT_SECRET "):
        azml_credential()


def test_the_whole_message_for_a_partial_principal():
    with pytest.raises(ValueError) as raised:
        azml_credential({"AZ_CLIENT_SECRET": "s"})
    assert str(raised.value) == (
        "Azure credentials: incomplete service principal; missing AZ_TENANT_ID, AZ_CLIENT_ID "
        "(set all of AZ_TENANT_ID, AZ_CLIENT_ID, AZ_CLIENT_SECRET, or none to use the default "
        "credential chain)")


def test_the_whole_message_for_a_missing_subscription(monkeypatch):
    monkeypatch.delenv("AZ_SUBSCRIPTION_ID", raising=False)
    with pytest.raises(ValueError) as raised:
        azml_subscription_id()
    assert str(raised.value) == (
        "subscription_id: required; pass it as an input or provide AZ_SUBSCRIPTION_ID (the "
        "azcreds secret, see use_azure_credentials)")
    monkeypatch.setenv("AZ_SUBSCRIPTION_ID", SECRET_SUB)
    assert azml_subscription_id() == SECRET_SUB


def test_the_client_is_bound_to_the_workspace_and_checks_its_names(monkeypatch):
    import logging

    from azml_components.runtime.azure_client import azml_ml_client

    for name in PRINCIPAL:
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "https://127.0.0.1:9")
    logging.getLogger("azure").setLevel(logging.INFO)
    client = azml_ml_client(GIVEN_SUB, "my-rg", "my-ws")  # no request is made yet
    assert (client.subscription_id, client.resource_group_name, client.workspace_name) == (
        GIVEN_SUB, "my-rg", "my-ws")
    assert logging.getLogger("azure").level == logging.WARNING
    monkeypatch.setenv("AZ_SUBSCRIPTION_ID", SECRET_SUB)
    assert azml_ml_client("", "my-rg", "my-ws").subscription_id == SECRET_SUB
    with pytest.raises(ValueError, match="^resource_group: 'rg.' is not a valid resource group"):
        azml_ml_client(GIVEN_SUB, "rg.", "my-ws")
    with pytest.raises(ValueError, match="^workspace_name: 'w' is not a valid workspace name"):
        azml_ml_client(GIVEN_SUB, "my-rg", "w")


def _retry_policy(client, operations: str):
    # The azure-core RetryPolicy in the pipeline an MLClient's operations send through.
    from azure.core.pipeline.policies import RetryPolicy

    service = {"online_endpoints": "_online_operation"}[operations]
    pipeline = getattr(getattr(client, operations), service)._client._pipeline
    (policy,) = [p for p in pipeline._impl_policies if isinstance(p, RetryPolicy)]
    return policy


@pytest.mark.parametrize(("method", "url", "total", "status", "waits", "backoff_max"), [
    # ARM calls: 6 status retries 0, 2, 4, 8, 16 and 32 s apart (about a minute), each wait at
    # most 60 s.
    ("GET", "https://management.azure.com/subscriptions/s/resourceGroups/g", 8, 6,
     [0, 2, 4, 8, 16, 32], 60),
    ("POST", "https://management.azure.com/subscriptions/s/x/listKeys", 8, 6,
     [0, 2, 4, 8, 16, 32], 60),
    # Scoring (a POST to the scoring URI): 3 status retries 0, 1 and 2 s apart, each wait at most
    # 30 s (a model's 500 is an answer to report), through the same client.
    ("POST", "https://my-endpoint.westeurope.inference.ml.azure.com/score", 6, 3, [0, 1, 2], 30),
])
def test_one_clients_retry_policy_retries_arm_and_scoring_each_as_set(
    monkeypatch, method, url, total, status, waits, backoff_max
):
    from azure.core.pipeline import PipelineContext, PipelineRequest
    from azure.core.pipeline.policies import HTTPPolicy
    from azure.core.rest import HttpRequest

    from azml_components.runtime import azure_client

    for name in PRINCIPAL:
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "https://127.0.0.1:9")
    client = azure_client.azml_ml_client(GIVEN_SUB, "my-rg", "my-ws")
    # ARM calls go through the operations' clients; the scoring POST (and the SDK's other
    # non-ARM requests) through MLClient's general-purpose pipeline. Each has its own policy.
    from azure.core.pipeline.policies import RetryPolicy

    (general,) = [p for p in client._requests_pipeline._impl_policies
                  if isinstance(p, RetryPolicy)]
    policy = general if "inference" in url else _retry_policy(client, "online_endpoints")
    assert general is not _retry_policy(client, "online_endpoints")
    seen = {}
    decide = policy.configure_retries

    def recorded(options):
        # What the retry policy decides for this request (azure-core reads it once per send).
        seen.update(decide(options))
        return seen

    class Answer(HTTPPolicy):
        def send(self, request):
            raise RuntimeError("stop here")  # no connection: the decision is all we look at

    monkeypatch.setattr(policy, "configure_retries", recorded)
    monkeypatch.setattr(policy, "next", Answer())
    monkeypatch.setattr(policy, "is_retry", lambda settings, response: False)
    request = PipelineRequest(HttpRequest(method, url), PipelineContext(None))
    with pytest.raises(RuntimeError, match="stop here"):
        policy.send(request)
    assert (seen["total"], seen["status"], seen["max_backoff"]) == (total, status, backoff_max)
    assert (seen["connect"], seen["read"]) == (3, 3)
    assert [policy.get_backoff_time({**seen, "history": [None] * n})
            for n in range(1, status + 1)] == waits


def test_a_subscription_id_must_be_a_guid_in_either_case():
    from azml_components.runtime.validation import azml_check_guid

    upper = "ABCDEF01-2345-6789-ABCD-EF0123456789"
    assert azml_check_guid("subscription_id", upper) == upper
    assert azml_check_guid("subscription_id", upper.lower()) == upper.lower()
    with pytest.raises(ValueError) as raised:
        azml_check_guid("subscription_id", "my-subscription")
    assert str(raised.value) == (
        "subscription_id: 'my-subscription' is not a subscription id; it must be a GUID like "
        "00000000-0000-0000-0000-000000000000 (the id, not the subscription's name)")


def test_scoring_answers_are_kept_by_the_clients_hook(monkeypatch):
    # invoke_endpoint keeps every scoring answer through a raw_response_hook handed to MLClient,
    # which passes its keyword arguments to each client it builds (azure-ai-ml 1.35, _kwargs);
    # answers to ARM calls are not kept.
    from types import SimpleNamespace

    from azml_components.runtime.azure_client import azml_ml_client

    for name in PRINCIPAL:
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "https://127.0.0.1:9")
    client = azml_ml_client(GIVEN_SUB, "my-rg", "my-ws")
    hook = client._kwargs["raw_response_hook"]
    for method, url in (("POST", "https://e.inference.ml.azure.com/score"),
                        ("GET", "https://m.azure.com/subscriptions/s/x"),
                        ("POST", "https://m.azure.com/subscriptions/s/x/listKeys")):
        hook(SimpleNamespace(http_request=SimpleNamespace(method=method, url=url),
                             http_response=url))
    assert client.azml_scoring_answers == ["https://e.inference.ml.azure.com/score"]
