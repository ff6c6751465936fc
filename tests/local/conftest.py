from __future__ import annotations

import ipaddress
import socket
import sys

import pytest
from azure.ai.ml import MLClient
from azure.identity import ClientSecretCredential

from tests.standin.fixture import StandIn


def make_credential(env: dict[str, str], secret: str | None = None) -> ClientSecretCredential:
    # Never DefaultAzureCredential here: its managed-identity step calls 169.254.169.254.
    return ClientSecretCredential(
        env["AZ_TENANT_ID"],
        env["AZ_CLIENT_ID"],
        secret or env["AZ_CLIENT_SECRET"],
        authority=env["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,  # MSAL would ask login.microsoftonline.com otherwise
    )


def make_client(env: dict[str, str], secret: str | None = None) -> MLClient:
    return MLClient(
        make_credential(env, secret),
        subscription_id=env["AZ_SUBSCRIPTION_ID"],
        resource_group_name=env["AZML_STANDIN_RESOURCE_GROUP"],
        workspace_name=env["AZML_STANDIN_WORKSPACE"],
    )


@pytest.fixture(scope="session")
def ml_client(standin: StandIn) -> MLClient:
    return make_client(standin.env)


def _loopback_only(event: str, args: tuple) -> None:
    # Guard for this process: every socket connect must stay on the machine.
    if event != "socket.connect":
        return
    sock, address = args
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0]
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ConnectionRefusedError(f"test tried to reach non-loopback address {address}")


sys.addaudithook(_loopback_only)
