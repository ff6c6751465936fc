"""Pipeline-side credential wiring: the `azcreds` Kubernetes secret as environment variables."""

from kfp import dsl, kubernetes

from azml_components.pins import CREDENTIAL_ENV_VARS


def use_azure_credentials(
    task: dsl.PipelineTask, secret_name: str = "azcreds", optional: bool = False
) -> dsl.PipelineTask:
    """Expose the Azure service principal secret to a task as environment variables.

    The secret's keys ``AZ_SUBSCRIPTION_ID``, ``AZ_TENANT_ID``, ``AZ_CLIENT_ID`` and
    ``AZ_CLIENT_SECRET`` become environment variables of the same names, so the secret never
    appears in the pipeline spec, on a command line or in logs.

    Args:
        task: The Azure-facing task to configure.
        secret_name: Name of the Kubernetes secret in the pipeline's namespace.
        optional: When True the pod starts without the secret, and the component falls back to
            azure-identity's default chain (workload identity, managed identity).

    Returns:
        The same task, for chaining.

    """
    return kubernetes.use_secret_as_env(
        task,
        secret_name=secret_name,
        secret_key_to_env={key: key for key in CREDENTIAL_ENV_VARS},
        optional=optional,
    )
