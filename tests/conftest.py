"""Session-wide local Azure ML (azml_local): every test talks to the real SDK.

Nothing in a test process may connect beyond loopback (an audit hook refuses it).
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Iterator

import pytest
from azml_local import LocalAzureML, local_azure_ml

from azml_components.runtime.calls import azml_forget_invoke_headers


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAzureML]:
    # One local Azure ML for the whole run, its environment applied to os.environ.
    with local_azure_ml(tmp_path_factory.mktemp("standin")) as service:
        yield service


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


@pytest.fixture(autouse=True)
def _faults_end_with_their_test(request: pytest.FixtureRequest) -> Iterator[None]:
    # A fault a test injected and did not use up must not reach the next test (random order).
    # An unhandled exception in local mode's own code (a 500 no test armed) fails the test that
    # caused it: Azure would not have answered so, and the SDK retries a 500 for a minute.
    uses_standin = "standin" in request.fixturenames
    before = len(request.getfixturevalue("standin").internal_errors()) if uses_standin else 0
    yield
    if uses_standin:
        standin = request.getfixturevalue("standin")
        standin.clear_faults()
        errors = standin.internal_errors()[before:]
        assert not errors, f"local mode raised in its own code: {errors}"


@pytest.fixture(autouse=True)
def _no_sticky_invoke_headers() -> Iterator[None]:
    # azure-ai-ml's invoke(deployment_name=...) leaves the header in a process-wide dict, so a
    # test's invoke would go to the deployment an earlier test (another module, same worker)
    # named: a batch test's "lenient" reached an online invoke in CI. Cleared around every test.
    azml_forget_invoke_headers()
    yield
    azml_forget_invoke_headers()


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    # pytest-randomly shuffles the tests (CI included); with -q its header line is not shown,
    # so the seed that replays this order is printed at the end.
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int):
        terminalreporter.write_line(
            f"random test order, seed {seed}: replay it with --randomly-seed={seed}")
