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


def azml_check_asset_name(field: str, value: str) -> str:
    # Azure ML asset names (models, environments) and ARM names of resource groups/workspaces.
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}", value):
        raise ValueError(
            f"{field}: {value!r} is not a valid name; it must be 1-255 characters, start with a "
            "letter or digit, and contain only letters, digits, '-', '_' and '.'"
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
