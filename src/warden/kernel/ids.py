"""ARM resource IDs, scopes and names: parsing, formatting and validation.

IDs compare case-insensitively (``key``) and keep the caller's spelling for output.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from warden.kernel.errors import BadRequest

ROOT = "/"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-[A-Za-z]+(\.\d+)?)?$")
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)+$")
_TYPE_SEGMENT = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_RESOURCE_GROUP_NAME = re.compile(r"^[-\w._()]{1,90}$")
# ARM's general rule: these characters break URL routing or are reserved.
_FORBIDDEN_NAME_CHARS = set('<>%&:\\?/#*"|')


class InvalidResourceId(BadRequest):
    code = "InvalidResourceId"


def is_guid(text: str) -> bool:
    return bool(_GUID.match(text))


def key(resource_id: str) -> str:
    """Case-insensitive lookup key of an ID or scope: lower-case, no trailing slash."""
    text = resource_id.strip().rstrip("/").lower()
    return text or ROOT


def validate_api_version(value: str | None) -> str:
    """Return a well-formed ``api-version`` or raise ARM's error for a missing or bad one."""
    if not value:
        raise BadRequest(
            "The api-version query parameter (?api-version=) is required for all requests.",
            code="MissingApiVersionParameter",
        )
    if not _API_VERSION.match(value):
        raise BadRequest(
            f"The api-version '{value}' is invalid. The api-version must be of the form "
            "'YYYY-MM-DD' with an optional suffix such as '-preview'.",
            code="InvalidApiVersionParameter",
        )
    return value


def validate_name(name: str, *, what: str = "resource", max_length: int = 260) -> str:
    """Check a resource name against ARM's general rules; return it or raise ``BadRequest``."""
    problem = None
    if not name or len(name) > max_length:
        problem = f"must be 1 to {max_length} characters long"
    elif any(ch in _FORBIDDEN_NAME_CHARS or unicodedata.category(ch).startswith("C") for ch in name):
        problem = 'must not contain the characters <>%&:\\?/#*"| or control characters'
    elif ".." in name or name in (".",):
        problem = "must not contain '..'"
    elif name.endswith((".", " ")) or name.startswith(" "):
        problem = "must not start with a space or end with a period or space"
    if problem:
        raise BadRequest(f"The {what} name '{name}' is invalid: it {problem}.", code="InvalidResourceName")
    return name


def validate_resource_group_name(name: str) -> str:
    if not _RESOURCE_GROUP_NAME.match(name) or name.endswith(".") or ".." in name:
        raise BadRequest(
            f"Resource group name '{name}' is invalid. It must be 1 to 90 characters of letters, digits, "
            "underscores, parentheses, hyphens and periods, and must not end with a period.",
            code="InvalidResourceGroupName",
        )
    return name


def validate_namespace(namespace: str) -> str:
    if not _NAMESPACE.match(namespace):
        raise InvalidResourceId(f"'{namespace}' is not a valid resource provider namespace.")
    return namespace


def validate_type_segment(segment: str) -> str:
    if not _TYPE_SEGMENT.match(segment):
        raise InvalidResourceId(f"'{segment}' is not a valid resource type segment.")
    return segment


@dataclass(frozen=True, slots=True)
class Scope:
    """The container part of an ID: tenant root, subscription or resource group."""

    subscription_id: str | None = None
    resource_group: str | None = None

    def __str__(self) -> str:
        if self.subscription_id is None:
            return ""
        text = f"/subscriptions/{self.subscription_id}"
        if self.resource_group is not None:
            text += f"/resourceGroups/{self.resource_group}"
        return text


@dataclass(frozen=True, slots=True)
class ResourceId:
    """``{scope}/providers/{namespace}/{type}/{name}[/{childType}/{childName}...]``.

    ``scope`` is the string the resource hangs from: ``""`` (tenant root), a subscription, a
    resource group, or, for extension resources such as locks, another resource's ID.
    """

    scope: str
    namespace: str
    types: tuple[str, ...]
    names: tuple[str, ...]

    def __str__(self) -> str:
        path = "/".join(f"{t}/{n}" for t, n in zip(self.types, self.names, strict=True))
        return f"{self.scope}/providers/{self.namespace}/{path}"

    @property
    def key(self) -> str:
        return key(str(self))

    @property
    def name(self) -> str:
        return self.names[-1]

    @property
    def type(self) -> str:
        """Full type such as ``Microsoft.Network/virtualNetworks/subnets``."""
        return "/".join((self.namespace, *self.types))

    @property
    def parent(self) -> str:
        """ID of the parent resource, or the scope for a top-level resource."""
        if len(self.types) == 1:
            return self.scope or ROOT
        return str(ResourceId(self.scope, self.namespace, self.types[:-1], self.names[:-1]))

    @property
    def container(self) -> Scope:
        return parse_container(self.scope)


def parse_container(scope: str) -> Scope:
    """Subscription and resource group an ID or scope lives in (either may be ``None``)."""
    parts = [p for p in scope.split("/") if p]
    sub = rg = None
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        sub = parts[1]
        if len(parts) >= 4 and parts[2].lower() == "resourcegroups":
            rg = parts[3]
    return Scope(sub, rg)


def parse_resource_id(text: str) -> ResourceId:
    """Parse a full resource ID; raise ``InvalidResourceId`` when it is not one."""
    parts = [p for p in text.split("/")]
    if not text.startswith("/") or any(p == "" for p in parts[1:]):
        raise InvalidResourceId(f"'{text}' is not a valid resource ID.")
    segments = parts[1:]
    # The last 'providers' segment separates the scope from the resource's own type path.
    for index in range(len(segments) - 1, -1, -1):
        if segments[index].lower() == "providers":
            tail = segments[index + 1 :]
            break
    else:
        raise InvalidResourceId(f"'{text}' is not a valid resource ID: no provider namespace.")
    if len(tail) < 3 or len(tail) % 2 == 0:
        raise InvalidResourceId(f"'{text}' is not a valid resource ID: expected type/name pairs.")
    scope = "/" + "/".join(segments[:index]) if index else ""
    namespace = validate_namespace(tail[0])
    types = tuple(validate_type_segment(t) for t in tail[1::2])
    names = tuple(tail[2::2])
    return ResourceId(scope, namespace, types, names)


def resource_group_id(subscription_id: str, name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{name}"
