# Input checks that run before any call to Azure: each error names the field and the rule.

from typing import Optional


def azml_check_online_name(field: str, value: str) -> str:
    # Azure's rule for online endpoint and deployment names.
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{2,31}", value):
        raise ValueError(
            f"{field}: {value!r} is not a valid name; it must be 3-32 characters, start with a "
            "letter, and contain only letters, digits and hyphens"
        )
    if value.endswith("-"):
        raise ValueError(f"{field}: {value!r} is not a valid name; it must not end with a hyphen")
    return value


def azml_check_guid(field: str, value: str) -> str:
    # Subscription ids are GUIDs; ARM answers anything else with 400 InvalidSubscriptionId ("The
    # provided subscription identifier '...' is malformed or invalid.", seen in Azure/apiops#460),
    # which the SDK reports as a missing workspace.
    import re

    if not isinstance(value, str) or not re.fullmatch(
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", value
    ):
        raise ValueError(
            f"{field}: {value!r} is not a subscription id; it must be a GUID like "
            "00000000-0000-0000-0000-000000000000 (the id, not the subscription's name)"
        )
    return value


def azml_check_asset_name(field: str, value: str) -> str:
    # Azure ML asset names (models, environments). The REST API spec (Microsoft.
    # MachineLearningServices, stable 2024-04-01, mfe.json, ModelVersions_CreateOrUpdate) gives the
    # name the pattern ^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$: no '.', nothing before the first
    # letter or digit.
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}", value):
        raise ValueError(
            f"{field}: {value!r} is not a valid name; it must be 1-255 characters, start with a "
            "letter or digit, and contain only letters, digits, '-' and '_'"
        )
    return value


def azml_check_asset_version(field: str, value: str) -> str:
    # A version is part of azureml:NAME:VERSION and of the ARM path (the spec sets no pattern):
    # letters, digits, '-', '_' and '.', starting with a letter or digit, so "1.0.2" is one.
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}", value):
        raise ValueError(
            f"{field}: {value!r} is not a valid version; it must be 1-255 characters, start with "
            "a letter or digit, and contain only letters, digits, '-', '_' and '.'"
        )
    return value


def azml_check_resource_group(field: str, value: str) -> str:
    # ARM's rule (azure-rest-api-specs common-types v3 ResourceGroupNameParameter: 1-90
    # characters, pattern ^[-\w\._\(\)]+$; Microsoft's naming rules add: no '.' at the end).
    import re

    if (
        not isinstance(value, str)
        or not re.fullmatch(r"[-\w._()]{1,90}", value)
        or value.endswith(".")
    ):
        raise ValueError(
            f"{field}: {value!r} is not a valid resource group name; it must be 1-90 letters, "
            "digits, '-', '_', '.', '(' or ')', and not end with '.'"
        )
    return value


def azml_check_workspace_name(field: str, value: str) -> str:
    # Azure ML's WorkspaceNameParameter (REST API spec): ^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$.
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{2,32}", value):
        raise ValueError(
            f"{field}: {value!r} is not a valid workspace name; it must be 3-33 characters, "
            "start with a letter or digit, and contain only letters, digits, '-' and '_'"
        )
    return value


def azml_check_choice(field: str, value: str, choices: list) -> str:
    if value not in choices:
        raise ValueError(f"{field}: {value!r} is not one of {', '.join(map(str, choices))}")
    return value


def azml_check_range(field: str, value: int, low: int, high: Optional[int] = None) -> int:
    # Booleans are ints in Python; reject them too so a mistyped flag is not a count.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field}: {value!r} must be a whole number")
    if value < low or (high is not None and value > high):
        rule = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{field}: {value} must be {rule}")
    return value


def azml_check_model_id(model_id: str) -> str:
    # azureml:NAME:VERSION or the version's ARM id; a model name alone would deploy whatever
    # version happens to be latest, which a pipeline should say explicitly.
    import re

    if re.fullmatch(r"azureml:[A-Za-z0-9][A-Za-z0-9_.-]*:[A-Za-z0-9][A-Za-z0-9_.-]*", model_id):
        return model_id
    if re.fullmatch(
        r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
        r"Microsoft\.MachineLearningServices/workspaces/[^/]+/models/[^/]+/"
        r"versions/[^/]+",
        model_id,
        flags=re.IGNORECASE,
    ):
        return model_id
    if azml_parse_registry_asset(model_id, "models"):  # a registry's model version
        return model_id
    raise ValueError(
        f"model_id: {model_id!r} must be azureml:NAME:VERSION, a model version's ARM id or a "
        "registry model azureml://registries/REGISTRY/models/NAME/versions/VERSION"
    )


def azml_string_map(field: str, value: Optional[dict]) -> dict:
    # Azure tags, properties and environment variables are string to string.
    import json

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{field}: must be a mapping of names to values")
    result = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"{field}: keys must be non-empty strings, got {key!r}")
        # Non-string values are kept as compact JSON rather than Python reprs.
        result[key] = item if isinstance(item, str) else json.dumps(item, sort_keys=True)
    return result


def azml_check_file_name(field: str, value: str) -> str:
    # A file name, no folders: a batch deployment's or job's outputFileName (the REST API spec's
    # "Customized output file name for append_row output action").
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}", value):
        raise ValueError(
            f"{field}: {value!r} must be a file name (letters, digits, '_', '-', '.'; no folders)"
        )
    return value


def azml_whole_numbers(value):
    # A dict or list input as KFP hands it over: protobuf's Struct holds every number as a
    # double, so {"min_instances": 1} arrives as 1.0. Whole floats become ints again (at any
    # depth), so the range checks see what the user wrote.
    if isinstance(value, dict):
        return {key: azml_whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [azml_whole_numbers(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def azml_check_registry_name(field: str, value: str) -> str:
    # The REST API spec's RegistryNameParameter (Microsoft.MachineLearningServices stable
    # 2024-04-01, registries.json): ^[a-zA-Z0-9][a-zA-Z0-9\-_]{2,32}$, case-insensitive.
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9\-_]{2,32}", value):
        raise ValueError(
            f"{field}: {value!r} is not a registry name: 3-33 characters, letters, digits, '-' "
            "and '_', starting with a letter or digit"
        )
    return value


def azml_registry_model_id(registry_name: str, name: str, version: str) -> str:
    # The id Azure gives a registry model version (azure-ai-ml REGISTRY_ASSET_ID).
    return f"azureml://registries/{registry_name}/models/{name}/versions/{version}"


def azml_parse_registry_asset(asset_id: str, kind: str = "models"):
    # (registry, name, version) of azureml://registries/R/<kind>/N/versions/V (the id Azure
    # gives a registry asset version: azure-ai-ml REGISTRY_ASSET_ID), else None.
    import re

    match = re.fullmatch(
        rf"azureml://registries/([^/]+)/{kind}/([^/]+)/versions/([^/]+)", str(asset_id)
    )
    return match.groups() if match else None
