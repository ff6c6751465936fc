"""`nox -s demo -- --subscription S --resource-group G --workspace W`: your own workspace.

The command's exact path (pipelines/run_local.py with those flags) runs against local mode
through nothing but what a real workspace gives a user: the three names, the azcreds
variables (AZ_*), and the SDK's own cloud configuration for a non-public cloud
(ARM_CLOUD_METADATA_URL, AZURE_AUTHORITY_HOST), with the local cloud's CA bundle and proxy as
a corporate network would set them. No AZML_* variable (local mode's or ours) reaches it.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from azure.ai.ml import MLClient
from azure.core.exceptions import ResourceNotFoundError

from azml_components.runtime import azml_credential

pytestmark = pytest.mark.timeout(900)
ROOT = Path(__file__).resolve().parents[2]
# What a user of a real (sovereign or private) cloud has: the azcreds secret's variables, the
# SDK's cloud configuration, and the network's trust store and proxy.
PUBLIC = ("AZ_SUBSCRIPTION_ID", "AZ_TENANT_ID", "AZ_CLIENT_ID", "AZ_CLIENT_SECRET",
          "ARM_CLOUD_METADATA_URL", "AZURE_AUTHORITY_HOST", "REQUESTS_CA_BUNDLE",
          "SSL_CERT_FILE", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy")


def _public_env(standin) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AZML_", "AZUREML_")) and k not in standin.env}
    env.update({k: standin.env[k] for k in PUBLIC})
    return env


def _command(standin, out: Path) -> list:
    return [sys.executable, "-m", "pipelines.run_local", "--formats", "mlflow", "--out", str(out),
            "--subscription", standin.env["AZ_SUBSCRIPTION_ID"],
            "--resource-group", standin.workspace["resource_group"],
            "--workspace", standin.workspace["workspace_name"]]


def _client(standin) -> MLClient:
    return MLClient(azml_credential(), standin.env["AZ_SUBSCRIPTION_ID"],
                    standin.workspace["resource_group"], standin.workspace["workspace_name"])


def _gone(client: MLClient, endpoint: str, model: str) -> None:
    with pytest.raises(ResourceNotFoundError):
        client.online_endpoints.get(endpoint)
    try:
        versions = [m.version for m in client.models.list(name=model)]
    except ResourceNotFoundError:
        versions = []
    assert versions == []


def test_own_workspace_demo_creates_unique_names_and_removes_them(standin, tmp_path):
    done = subprocess.run(_command(standin, tmp_path), cwd=ROOT, env=_public_env(standin),
                          capture_output=True, text=True, timeout=850)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    created = re.search(r"will create: endpoints (diabetes-mlflow-[0-9a-f]{8}); models "
                        r"(diabetes-ridge-[0-9a-f]{8})", output)
    assert created, output[-4000:]
    endpoint, model = created.groups()
    assert "Standard_DS3_v2 at about $0.293/hour" in output
    assert re.search(rf"endpoint {endpoint} answered HTTP 200", output), output[-4000:]
    assert f"deleted online endpoint {endpoint}" in output
    _gone(_client(standin), endpoint, model)


def test_own_workspace_demo_cleans_up_after_ctrl_c(standin, tmp_path):
    process = subprocess.Popen(_command(standin, tmp_path), cwd=ROOT, env=_public_env(standin),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        created = None
        for line in process.stdout:
            created = re.search(r"will create: endpoints (\S+); models (\S+)", line)
            if created:
                break
        assert created, "no plan printed"
        endpoint, model = created.groups()
        client = _client(standin)
        while True:  # interrupted once the endpoint is observed to exist
            assert process.poll() is None, "the demo ended before creating its endpoint"
            try:
                client.online_endpoints.get(endpoint)
                break
            except ResourceNotFoundError:
                time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        rest = process.stdout.read()
        process.wait(600)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, rest[-4000:]
    assert "removing what this run created" in rest, rest[-4000:]
    assert "could not remove" not in rest, rest[-4000:]
    _gone(client, endpoint, model)
