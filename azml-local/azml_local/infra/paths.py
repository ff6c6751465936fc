"""Where local mode keeps what outlives one run: Azurite, scoring environments, wheels.

Everything goes under one cache directory, ``$AZML_LOCAL_CACHE`` or
``$XDG_CACHE_HOME/azml-components`` (``~/.cache/azml-components``), so an installed package never
writes into site-packages or the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The root of local mode's caches."""
    explicit = os.environ.get("AZML_LOCAL_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "azml-components"


def env_cache_dir() -> Path:
    """Scoring environments, one per distinct requirement set (``$AZML_LOCAL_ENV_CACHE``)."""
    explicit = os.environ.get("AZML_LOCAL_ENV_CACHE")
    return Path(explicit).expanduser() if explicit else cache_dir() / "envs"


def wheelhouse_dir() -> Path | None:
    """An offline wheelhouse to build scoring environments from (``$AZML_LOCAL_WHEELHOUSE``)."""
    explicit = os.environ.get("AZML_LOCAL_WHEELHOUSE")
    return Path(explicit).expanduser() if explicit else None
