r"""Azure Resource Manager's rules for resource tags, as local mode enforces them.

The limits, from Azure's own documents:
- "Each resource, resource group, and subscription can have a maximum of 50 tag name-value
  pairs"; tag names are limited to 512 characters and values to 256; names cannot contain
  <, >, %, &, \, ?, / (learn.microsoft.com/azure/azure-resource-manager/management/
  tag-resources, "Limitations"; the 50 replaced an earlier 15);
- the Resource Provider Contract: each tag "must have a key no greater than 512 characters (and
  value no greater than 256 characters)", and "The tag name cannot include: '<', '>', '%', '&',
  '\\', '?', '/', and any control characters" (github.com/Azure/azure-resource-manager-rpc,
  v1.0/resource-api-reference.md, the `tags` field; it still says 15 tags).

Tags are a TrackedResource field (`tags`, a string map, with no x-ms-mutability limit, so they
can be changed in place: common-types/resource-management/v3/types.json in
github.com/Azure/azure-rest-api-specs); online endpoints take them in the PUT body
(`OnlineEndpointTrackedResource`) and in PATCH (`PartialMinimalTrackedResourceWithIdentity`,
machinelearningservices stable/2024-04-01 mfe.json). azure-ai-ml sends them in the endpoint PUT
(`OnlineEndpoint._to_rest_online_endpoint`), which replaces the whole map.
"""

from __future__ import annotations

from typing import Any

from azml_local.infra.web import bad_request

MAX_TAGS = 50
MAX_NAME = 512
MAX_VALUE = 256
FORBIDDEN_IN_NAMES = "<>%&\\?/"
# The error code is ours; Azure answers these with a 400 as well.
CODE = "InvalidTag"


def checked_tags(body: dict[str, Any]) -> dict[str, Any]:
    """The body's `tags` (empty when absent), or a 400 naming the broken rule."""
    tags = body.get("tags")
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise bad_request("'tags' must map tag names to values.", CODE)
    # Typed as strings; like check_string_map, scalars pass (what the SDK may serialize).
    scalars = (str, int, float, bool, type(None))
    if len(tags) > MAX_TAGS:
        raise bad_request(
            f"A resource can have at most {MAX_TAGS} tags; the request has {len(tags)}.", CODE
        )
    for name, value in tags.items():
        if len(name) > MAX_NAME:
            raise bad_request(
                f"Tag name '{name[:40]}...' has {len(name)} characters; the limit is {MAX_NAME}.",
                CODE,
            )
        bad = sorted({c for c in name if c in FORBIDDEN_IN_NAMES or ord(c) < 32 or ord(c) == 127})
        if bad:
            raise bad_request(
                f"Tag name '{name}' contains reserved characters {bad}: names cannot contain "
                "'<', '>', '%', '&', '\', '?', '/' or control characters.",
                CODE,
            )
        if not isinstance(value, scalars):
            raise bad_request(f"Tag '{name}' must have a string value.", CODE)
        if len(str(value)) > MAX_VALUE:
            raise bad_request(
                f"The value of tag '{name}' has {len(str(value))} characters; the limit is "
                f"{MAX_VALUE}.",
                CODE,
            )
    return tags
