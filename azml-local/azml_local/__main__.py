"""`python -m azml_local [--state-dir DIR] [--port N]`: local Azure ML, foreground.

Prints the `export` lines that point the Azure SDK (and these components, and kfp.local runs) at
it; Ctrl-C or SIGTERM stops it and everything it started.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

from azml_local.app import Service
from azml_local.infra.azurite import azurite_binary
from azml_local.infra.paths import cache_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m azml_local",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=cache_dir() / "state",
                        help="resources, blobs and certificates (default: %(default)s)")
    parser.add_argument("--install-only", action="store_true",
                        help="install Azurite into the cache if needed, then exit")
    parser.add_argument("--port", type=int, default=0, help="control plane port (0: any free)")
    args = parser.parse_args(argv)
    if args.install_only:
        print(f"Azurite: {azurite_binary()}")
        return 0
    logging.basicConfig(level=logging.INFO, format="standin %(levelname)s %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # no per-request noise

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    state_dir = args.state_dir.resolve()
    ready = state_dir / "ready.json"
    ready.unlink(missing_ok=True)
    started = time.monotonic()
    service = Service(state_dir, args.port)
    try:
        env = service.env()
        for name, value in env.items():
            print(f"export {name}={shlex.quote(value)}")
        print(
            f"# subscription {env['AZ_SUBSCRIPTION_ID']}, resource group "
            f"{env['AZML_LOCAL_RESOURCE_GROUP']}, workspace {env['AZML_LOCAL_WORKSPACE']}; "
            f"ready in {time.monotonic() - started:.1f} s (Ctrl-C stops it)",
        )
        sys.stdout.flush()
        tmp = ready.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "env": env}, indent=1))
        os.replace(tmp, ready)  # readers never see a half-written file
        stop.wait()
    finally:
        ready.unlink(missing_ok=True)
        service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
