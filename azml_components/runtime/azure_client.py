# Credentials and the MLClient: the only place that decides how a component authenticates.

from typing import Optional

from azml_components.runtime.validation import (
    azml_check_guid,
    azml_check_registry_name,
    azml_check_resource_group,
    azml_check_workspace_name,
)


def azml_subscription_id(subscription_id: str = "") -> str:
    # An explicit argument wins; otherwise the azcreds secret's AZ_SUBSCRIPTION_ID.
    import os

    value = subscription_id or os.environ.get("AZ_SUBSCRIPTION_ID", "")
    if not value:
        raise ValueError(
            "subscription_id: required; pass it as an input or provide AZ_SUBSCRIPTION_ID "
            "(the azcreds secret, see use_azure_credentials)"
        )
    field = "subscription_id" if subscription_id else "subscription_id (AZ_SUBSCRIPTION_ID)"
    return azml_check_guid(field, value)


def azml_credential(environ: Optional[dict] = None):
    # A service principal from AZ_TENANT_ID/AZ_CLIENT_ID/AZ_CLIENT_SECRET when all three are set;
    # none of them set means azure-identity's default chain (workload identity, managed
    # identity); a partial set is a configuration mistake and is reported, never guessed around.
    import os
    from urllib.parse import urlparse

    env = os.environ if environ is None else environ
    names = ["AZ_TENANT_ID", "AZ_CLIENT_ID", "AZ_CLIENT_SECRET"]
    present = [n for n in names if env.get(n)]
    missing = [n for n in names if not env.get(n)]
    authority = env.get("AZURE_AUTHORITY_HOST", "")
    # Instance discovery asks login.microsoftonline.com about the authority; for any other host
    # (sovereign clouds are known to MSAL, a local stand-in is not) it must be switched off.
    microsoft_hosts = {
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
    }
    custom_authority = bool(authority) and urlparse(authority).hostname not in microsoft_hosts
    if present and missing:
        raise ValueError(
            "Azure credentials: incomplete service principal; missing "
            + ", ".join(missing)
            + " (set all of AZ_TENANT_ID, AZ_CLIENT_ID, AZ_CLIENT_SECRET, or none to use the "
            "default credential chain)"
        )
    if present:
        from azure.identity import ClientSecretCredential

        kwargs = {}
        if authority:
            kwargs["authority"] = authority
        if custom_authority:
            kwargs["disable_instance_discovery"] = True
        return ClientSecretCredential(
            env["AZ_TENANT_ID"], env["AZ_CLIENT_ID"], env["AZ_CLIENT_SECRET"], **kwargs
        )
    from azure.identity import DefaultAzureCredential

    kwargs = {}
    if custom_authority:
        kwargs["disable_instance_discovery"] = True
    # AZML_EXCLUDE_MANAGED_IDENTITY lets tests keep the chain off the instance-metadata address.
    if env.get("AZML_EXCLUDE_MANAGED_IDENTITY", "").lower() in ("1", "true", "yes"):
        kwargs["exclude_managed_identity_credential"] = True
    return DefaultAzureCredential(**kwargs)


def azml_retry_settings() -> dict:
    # How every call to Azure Resource Manager is retried, given to azure-core's RetryPolicy
    # through MLClient (which hands its keyword arguments to each of its clients). azure-core
    # 1.41 (pipeline/policies/_retry.py) retries 408, 429, 500, 502, 503 and 504, and any
    # status that comes with Retry-After (ARM's 429s always do: "request limits and
    # throttling"), on GET, PUT, DELETE and HEAD; POST only on 500, 503 and 504 or with
    # Retry-After. It waits what Retry-After says, else 0 s and then backoff_factor * 2^n.
    # Its default is 3 status retries 0.8 s apart, too few for throttling that lasts a minute:
    # here 6 (0, 2, 4, 8, 16, 32 s: about a minute in all), each wait at most 60 s. Connection
    # and read errors keep azure-core's 3 retries.
    return {
        "retry_total": 8,
        "retry_status": 6,
        "retry_backoff_factor": 1.0,
        "retry_backoff_max": 60,
    }


def azml_scoring_retry_settings() -> dict:
    # invoke_endpoint and smoke tests: a 500, 503 or 504 from the scoring front door is
    # Azure's own failure (a model's non-200 comes as 424, never retried: "Troubleshoot online
    # endpoint deployment and scoring", HTTP status codes), worth a short wait, not a minute:
    # 3 status retries 0, 1, 2 s apart; 429 and 502 on the scoring POST are retried by
    # azml_send_request. Connection and read errors keep azure-core's 3 retries.
    return {
        "retry_total": 6,
        "retry_status": 3,
        "retry_backoff_factor": 0.5,
        "retry_backoff_max": 30,
    }


def azml_is_scoring_request(method: str, url: str) -> bool:
    # A request to a scoring URI (a POST outside ARM's /subscriptions/ paths), as opposed to a
    # call to Azure Resource Manager.
    return method.upper() == "POST" and "/subscriptions/" not in url


def azml_ml_client(subscription_id: str, resource_group: str, workspace_name: str):
    # The one MLClient (and credential) of a component run, bound to the workspace the inputs
    # name; the runtime's entry points take it as `client`. A call to ARM is retried as
    # azml_retry_settings says (MLClient hands its keyword arguments to every client it
    # builds); a scoring request as azml_scoring_retry_settings says: it goes through the
    # client's general-purpose pipeline (MLClient._requests_pipeline, azure-ai-ml 1.35), whose
    # retry policy sets those per request (azure-core reads per-request settings from the
    # request context's options, RetryPolicy.configure_retries). That pipeline's policy gets the
    # subclass in place, keeping its links: azure-core chains each pipeline's policies through
    # their `next` attribute, so one policy instance cannot serve several pipelines. Every
    # answer to a scoring request is kept in client.azml_scoring_answers: the SDK turns a
    # scoring answer whose body is not JSON into an MlException without its status
    # (_utils/_endpoint_utils.validate_response), and the answer says what the model said.
    import logging

    from azure.ai.ml import MLClient
    from azure.core.pipeline.policies import RetryPolicy

    # KFP's executor logs at INFO, where the SDK reports every HTTP request and activity: keep
    # task logs to what the component prints, and Azure's warnings and errors.
    logging.getLogger("azure").setLevel(logging.WARNING)

    azml_check_resource_group("resource_group", resource_group)
    azml_check_workspace_name("workspace_name", workspace_name)
    scoring = azml_scoring_retry_settings()
    answers = []

    class AzmlRetryPolicy(RetryPolicy):
        def send(self, request):
            http = request.http_request
            if azml_is_scoring_request(http.method, http.url):
                for key, value in scoring.items():
                    request.context.options.setdefault(key, value)
            return super().send(request)

    def keep_scoring_answers(pipeline_response) -> None:
        http = pipeline_response.http_request
        if azml_is_scoring_request(http.method, http.url):
            answers.append(pipeline_response.http_response)

    client = MLClient(
        credential=azml_credential(),
        subscription_id=azml_subscription_id(subscription_id),
        resource_group_name=resource_group,
        workspace_name=workspace_name,
        raw_response_hook=keep_scoring_answers,
        **azml_retry_settings(),
    )
    (retry,) = [p for p in client._requests_pipeline._impl_policies if isinstance(p, RetryPolicy)]
    retry.__class__ = AzmlRetryPolicy
    client.azml_scoring_answers = answers
    return client


def azml_registry_client(registry_name: str, field: str = "registry_name"):
    # MLClient(registry_name=...): the SDK asks the registry discovery service where the registry
    # lives (azure-ai-ml 1.35, _utils/_registry_utils.py RegistryDiscovery, in MLClient's
    # constructor). A registry that does not exist, or that these credentials cannot reach
    # (403), is a ValueError naming the field; nothing has been written yet.
    from azure.ai.ml import MLClient
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    azml_check_registry_name(field, registry_name)
    try:
        return MLClient(azml_credential(), registry_name=registry_name, **azml_retry_settings())
    except ClientAuthenticationError:
        raise
    except HttpResponseError as error:
        raise ValueError(
            f"{field}: registry {registry_name!r} is not reachable with these credentials "
            f"(HTTP {error.status_code}: {' '.join(str(error.message).split())})"
        ) from error
