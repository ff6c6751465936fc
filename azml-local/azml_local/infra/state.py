"""Resource state: ARM resources keyed by their lower-cased id, saved as JSON in the state dir.

Azure ids are case-insensitive with the case of the first PUT preserved, so the store keys on
`id.lower()` and keeps the body (with its original id) as the value. Private bookkeeping of a
resource (keys, content hash, ...) lives under PRIVATE and never leaves the server.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path
from typing import Any

PRIVATE = "_standin"


class Store:
    def __init__(self, path: Path) -> None:
        self._path = path
        self.lock = threading.RLock()
        self._items: dict[str, dict[str, Any]] = {}
        if path.exists():
            self._items = json.loads(path.read_text())["resources"]

    def get(self, rid: str) -> dict[str, Any] | None:
        with self.lock:
            item = self._items.get(rid.lower())
            return copy.deepcopy(item) if item is not None else None

    def put(self, body: dict[str, Any]) -> None:
        with self.lock:
            self._items[body["id"].lower()] = copy.deepcopy(body)
            self._save()

    def delete(self, rid: str) -> None:
        with self.lock:
            self._items.pop(rid.lower(), None)
            prefix = rid.lower() + "/"
            for key in [k for k in self._items if k.startswith(prefix)]:
                del self._items[key]
            self._save()

    def children(self, parent: str, kind: str) -> list[dict[str, Any]]:
        """Direct children `parent/kind/<name>` in creation order."""
        prefix = f"{parent}/{kind}/".lower()
        with self.lock:
            return [
                copy.deepcopy(v)
                for k, v in self._items.items()
                if k.startswith(prefix) and "/" not in k[len(prefix) :]
            ]

    def all(self) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(v) for v in self._items.values()]

    def _save(self) -> None:
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"resources": self._items}, indent=1, sort_keys=True))
        os.replace(tmp, self._path)


def public(body: dict[str, Any]) -> dict[str, Any]:
    """The resource as the service shows it (private bookkeeping removed)."""
    return {k: v for k, v in body.items() if k != PRIVATE}
