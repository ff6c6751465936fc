"""`nox -s demo` starts the examples while local mode starts: how they wait for it.

pipelines/run_local.py's wait_for_local_mode reads the files noxfile.py's _LocalModeInBackground
writes: `ready.json` (local mode's variables), `ready.json.installed` (Azurite's npm install is
over) and `ready.json.failed` (why local mode did not start).
"""

import json
import threading

import pytest

from pipelines import run_local


@pytest.fixture
def ready(tmp_path, monkeypatch):
    path = tmp_path / "ready.json"
    monkeypatch.setenv(run_local.READY_FILE, str(path))
    monkeypatch.delenv("AZML_DEMO_HANDOFF", raising=False)
    return path


def test_the_examples_take_local_modes_variables_once_it_is_ready(ready, monkeypatch):
    # Written while the example waits, as local mode writes it when it is up.
    timer = threading.Timer(0.2, ready.write_text,
                            [json.dumps({"env": {"AZML_DEMO_HANDOFF": "up"}})])
    timer.start()
    run_local.wait_for_local_mode()
    timer.join()
    assert run_local.os.environ["AZML_DEMO_HANDOFF"] == "up"


def test_the_imports_wait_only_for_azurites_install(ready):
    (ready.parent / "ready.json.installed").touch()
    run_local.wait_for_local_mode("installed")  # returns with local mode not up yet
    assert "AZML_DEMO_HANDOFF" not in run_local.os.environ


def test_a_local_mode_that_did_not_start_ends_the_example_with_why(ready):
    (ready.parent / "ready.json.failed").write_text("RuntimeError('npm ci failed')\nnpm ERR! x")
    for step in ("installed", ""):
        with pytest.raises(SystemExit, match=r"local mode did not start:\n.*npm ci failed"):
            run_local.wait_for_local_mode(step)
