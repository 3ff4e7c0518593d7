"""Shared helpers of the directory commands (``warden user|group|app``): finding objects by name."""

from __future__ import annotations

from urllib.parse import quote

from warden.cli.client import CliError, WardenClient
from warden.kernel.ids import is_guid

GRAPH = "https://graph.microsoft.com/v1.0"


def _quoted(value: str) -> str:
    return value.replace("'", "''")


def user_id(client: WardenClient, ref: str) -> str:
    """Object ID of the user named by object ID or userPrincipalName; raise ``CliError`` if absent."""
    if is_guid(ref):
        return ref.lower()
    return client.get(f"/v1.0/users/{quote(ref, safe='@')}")["id"]


def group_id(client: WardenClient, ref: str) -> str:
    """Object ID of the group named by object ID or (unique) display name."""
    if is_guid(ref):
        return ref.lower()
    found = client.list("/v1.0/groups", params={"$filter": f"displayName eq '{_quoted(ref)}'"})
    if len(found) != 1:
        raise CliError(f"{'no' if not found else 'more than one'} group is named '{ref}'; use its object ID.")
    return found[0]["id"]


def application(client: WardenClient, ref: str) -> dict:
    """The application with this object ID or appId (client ID)."""
    if not is_guid(ref):
        raise CliError(f"'{ref}' is not an object ID or application (client) ID.")
    found = client.list("/v1.0/applications", params={"$filter": f"id eq '{ref}' or appId eq '{ref}'"})
    if not found:
        raise CliError(f"no application has the object ID or client ID '{ref}'.", code="Request_ResourceNotFound")
    return found[0]


def directory_object_id(client: WardenClient, ref: str) -> str:
    """A member or owner: an object ID as is, a UPN resolved to its user."""
    return ref.lower() if is_guid(ref) else user_id(client, ref)


def reference(object_id: str) -> dict[str, str]:
    """The ``$ref`` body naming a directory object."""
    return {"@odata.id": f"{GRAPH}/directoryObjects/{object_id}"}
