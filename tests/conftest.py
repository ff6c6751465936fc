"""Session-wide local Azure ML stand-in (tests/standin): every test talks to the real SDK."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.standin.fixture import StandIn, start_standin


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    service = start_standin(tmp_path_factory.mktemp("standin"))
    saved = dict(os.environ)
    os.environ.update(service.env)
    # The SDK caches the cloud it resolved in this variable; a stale value would win.
    os.environ.pop("AZUREML_CURRENT_CLOUD", None)
    try:
        yield service
    finally:
        service.stop()
        os.environ.clear()
        os.environ.update(saved)
