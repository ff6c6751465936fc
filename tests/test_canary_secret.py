"""No credential leaks: the client secret and the endpoint's keys appear nowhere a run leaves text.

The client secret is a canary: the stand-in makes a fresh random one per session
(`standin-` and 24 random bytes, local/auth.py) and its token endpoint accepts only that one, so
every token this run got proves the canary was in use. The components run through kfp.local
under the KFP backend's rules (deploy, a passing and a failing smoke test, set_traffic, delete),
then everything the run left is searched: task logs (the captured stdout/stderr of the tasks),
Python logging, every output artifact, metadata and executor-output file under the pipeline
root, the deploy report, compiled/ and the text of every exception, a failing invoke's included.
Issue 10, "What to build" 4. With payload logging on, what the data collector wrote (issue 22)
is searched as well. The example pipeline's test checks its own outputs for the secret
too (tests/pipelines/test_example_pipeline.py); this one adds the endpoint keys, failures and
compiled/.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from kfp import local

from azml_components import delete_endpoint, deploy_model, invoke_endpoint, set_traffic
from azml_components.runtime.invoke import azml_invoke_endpoint
from azml_components.runtime.register import azml_register_model
from azml_components.testing.kfp_backend import kfp_backend_rules
from tests.helpers import (
    data_payload,
    diabetes_rows,
    ml_client,
    unique,
    wait_for_collected,
    workspace,
    write_custom_model,
)

pytestmark = pytest.mark.timeout(600)
ROOT = Path(__file__).resolve().parent.parent
# Payload logging with a captured header; Authorization (the key) is never captured.
PAYLOAD_LOGGING = {"collections": {"request": {"enabled": "True"},
                                   "response": {"enabled": "True"}},
                   "request_logging": {"capture_headers": ["Content-Type"]}}


def _fragments(secret: str) -> list:
    # The whole value and any 12-character piece of it (a log that cuts a value short
    # still leaks it).
    return [secret] + [secret[i:i + 12] for i in range(0, len(secret) - 12, 4)]


def _leaks(secrets: dict, sources: dict) -> list:
    found = []
    for where, text in sources.items():
        for name, secret in secrets.items():
            if any(piece in text for piece in _fragments(secret)):
                found.append(f"{name} in {where}")
    return found


def test_no_secret_or_endpoint_key_in_anything_a_run_produces(standin, tmp_path, capfd, caplog):
    canary = standin.env["AZ_CLIENT_SECRET"]
    assert canary.startswith("standin-") and len(canary) >= 40  # fresh and random per session
    ws = workspace()
    endpoint = unique("canary")
    model_dir, code_dir, _ = write_custom_model(tmp_path / "src")
    shutil.copytree(code_dir, model_dir / "code")
    exceptions, sources = {}, {}
    caplog.set_level(logging.DEBUG)
    registered = azml_register_model(**ws, model_name=endpoint, model_path=str(model_dir))

    pipeline_root = tmp_path / "root"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root))
    with kfp_backend_rules() as rules:
        # Payload logging on (issue 22): the collected requests and responses are searched
        # too; the invokes send the endpoint key in Authorization.
        deploy_model(endpoint_name=endpoint, deployment_name="blue", model_id=registered[
            "asset_id"], code_in_model="code", conda_file="conda.yaml", timeout_seconds=300,
            data_collector=PAYLOAD_LOGGING, **ws)
        invoke_endpoint(endpoint_name=endpoint, payload=data_payload(diabetes_rows()), **ws)
        # A scoring answer that fails the smoke test: the model raises on 3 columns.
        with pytest.raises(RuntimeError) as failed:
            invoke_endpoint(endpoint_name=endpoint, payload=json.dumps({"data": [[0.0] * 3]}),
                            **ws)
        exceptions["failing invoke_endpoint task"] = failed.value
        set_traffic(endpoint_name=endpoint, traffic={"blue": 100}, **ws)
    # The keys the invokes read, read again before the endpoint goes.
    keys = ml_client().online_endpoints.get_keys(endpoint)
    assert keys.primary_key and keys.secondary_key
    # The runtime's own errors: a call to a deployment that does not exist, and an answer
    # that failed its checks.
    for deployment in ("nope", ""):
        try:
            result = azml_invoke_endpoint(**ws, endpoint_name=endpoint, deployment_name=deployment,
                                          payload=json.dumps({"data": [[0.0] * 3]}))
            exceptions[f"invoke result ({deployment or 'by traffic'})"] = json.dumps(result)
        except Exception as error:  # noqa: BLE001 - its text is searched below
            exceptions[f"invoke error ({deployment})"] = error
    # What the data collector wrote (the smoke tests' requests and answers).
    events = wait_for_collected(ml_client(), f"modelDataCollector/{endpoint}/blue/", 4)
    for name, lines in events.items():
        sources[f"collected {name}"] = "\n".join(json.dumps(line) for line in lines)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root))
    delete_endpoint(endpoint_name=endpoint, **ws)

    logs = capfd.readouterr()
    sources.update({"task stdout": logs.out, "task stderr": logs.err,
                    "python logging": caplog.text})
    # Exception texts with their causes (what a traceback would show).
    for where, error in exceptions.items():
        texts = []
        while isinstance(error, BaseException):
            texts.append(f"{type(error).__name__}: {error}")
            error = error.__cause__ or error.__context__
        sources[where] = "\n".join(texts) if texts else str(error)
    produced = [p for p in pipeline_root.rglob("*") if p.is_file()]
    compiled = [p for p in (ROOT / "compiled").rglob("*") if p.is_file()]
    for path in produced + compiled:
        sources[str(path)] = path.read_bytes().decode("utf-8", errors="replace")

    # The search looked at real material: the tasks ran and wrote what they write.
    assert set(rules.checked) == {"deploy-model", "invoke-endpoint", "set-traffic"}, rules.checked
    assert any(p.name == "report" for p in produced) and any(p.name == "response"
                                                             for p in produced)
    assert any(p.name == "executor_output.json" for p in produced)
    assert "smoke test of" in logs.out + logs.err and "status: expected 200" in logs.out + logs.err
    assert len(compiled) >= 10
    assert any("/request/" in name for name in events) and any(
        "/response/" in name for name in events), list(events)
    assert "invoke error (nope)" in sources or "invoke result (nope)" in sources
    assert _leaks({"AZ_CLIENT_SECRET": canary, "primary key": keys.primary_key,
                   "secondary key": keys.secondary_key}, sources) == []
