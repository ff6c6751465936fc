"""Pipeline-side wiring of an Azure-facing task: the `azcreds` secret and no KFP cache."""

from kfp import dsl, kubernetes

from azml_components.pins import CREDENTIAL_ENV_VARS


def use_azure_credentials(
    task: dsl.PipelineTask,
    secret_name: str = "azcreds",
    optional: bool = False,
    enable_caching: bool = False,
) -> dsl.PipelineTask:
    """Give an Azure-facing task the service principal secret, and keep it out of KFP's cache.

    The secret's keys ``AZ_SUBSCRIPTION_ID``, ``AZ_TENANT_ID``, ``AZ_CLIENT_ID`` and
    ``AZ_CLIENT_SECRET`` become environment variables of the same names, so the secret never
    appears in the pipeline spec, on a command line or in logs.

    Caching is turned off for the task (``task.set_caching_options(False)``): on a cache hit
    the KFP backend's driver never starts the container and replays the earlier outputs, so a
    deployment, traffic change, deletion or smoke test would show green while nothing happened
    in Azure (say, after someone deleted the endpoint or moved traffic by hand).

    Args:
        task: The Azure-facing task to configure.
        secret_name: Name of the Kubernetes secret in the pipeline's namespace.
        optional: When True the pod starts without the secret, and the component falls back to
            azure-identity's default chain (workload identity, managed identity). Needs a KFP
            backend 2.15 or newer: 2.14 refuses the run ("unknown field optional") and older
            ones ignore it.
        enable_caching: Let KFP serve the task from its cache. Only for a step whose earlier
            result stays true whatever happens in Azure meanwhile. Of this package's components
            only ``register_model`` comes close (a hit hands on the version registered before;
            if that was deleted since, the next step fails rather than passing silently); the
            shipped pipelines keep caching off for every Azure step.

    Returns:
        The same task, for chaining.

    """
    kubernetes.use_secret_as_env(
        task,
        secret_name=secret_name,
        secret_key_to_env={key: key for key in CREDENTIAL_ENV_VARS},
        optional=optional,
    )
    if not optional:
        # kfp-kubernetes writes `optional: false` too. KFP 2.14's workflow compiler parses the
        # task's Kubernetes config strictly with a proto that has no `optional` on SecretAsEnv
        # (backend/src/v2/compiler/argocompiler/container.go, containerExecutorTask), so the
        # field would fail the run there; left out, every backend from 2.5 on reads "required",
        # the Kubernetes default (backend/src/v2/driver/k8s.go sets Optional only when given).
        task.platform_config["kubernetes"]["secretAsEnv"][-1].pop("optional", None)
    task.set_caching_options(enable_caching)
    return task
