"""check_drift's HTML report in a real headless browser (Debian's chromium).

The KFP UI shows HTML artifacts in a sandboxed frame and clusters are often air-gapped, so the
page must render its plots with nothing fetched: the page is served on loopback, every other
host resolves to nothing, and chromium's network log must show no request the page made beyond
itself. A page that does fetch something (an <img> elsewhere) is the control: the same check
must see it. The screenshot must hold both histogram colours.
"""

from __future__ import annotations

import http.server
import json
import shutil
import struct
import subprocess
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

from azml_components.runtime.drift import azml_check_drift
from tests.runtime.test_drift import SEED, _csv, _rows

pytestmark = pytest.mark.timeout(180)
BASELINE_BLUE, PRODUCTION_ORANGE = (0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E)


def _chromium() -> str:
    found = shutil.which("chromium")
    if not found:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (nox -s tests "
                    "installs it when run as root; .ci/run does)")
    return found


def _serve(folder: Path):
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _browse(page_url: str, work: Path) -> tuple[str, set]:
    # (the rendered DOM, the URLs the page requested); a screenshot is left in work/shot.png.
    common = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", f"--user-data-dir={work / 'profile'}",
              "--disable-background-networking", "--disable-component-update", "--no-first-run",
              "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
              "--window-size=1200,1600"]
    net_log = work / "net.json"
    dom = subprocess.run([*common, f"--log-net-log={net_log}", "--dump-dom", page_url],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    subprocess.run([*common, f"--screenshot={work / 'shot.png'}", page_url],
                   capture_output=True, timeout=120, check=True)
    events = json.loads(net_log.read_text())["events"]
    # Requests the page made carry its origin as initiator; chromium's own background traffic
    # says "not an origin".
    requested = {e["params"]["url"] for e in events
                 if "url" in e.get("params", {}) and e["params"].get("initiator") not in
                 (None, "not an origin")}
    return dom, requested


def _pixels(png: Path) -> np.ndarray:
    # Decode chromium's 8-bit RGB(A) screenshot (zlib + PNG row filters) into an array.
    data = png.read_bytes()
    chunks, offset = {}, 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunks.setdefault(kind, b"")
        chunks[kind] += data[offset + 8:offset + 8 + length]
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and colour in (2, 6)
    channels = 4 if colour == 6 else 3
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.int32)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], np.frombuffer(
            raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)], dtype=np.uint8).astype(np.int32)
        prior = out[y - 1] if y else np.zeros(stride, dtype=np.int32)
        if kind in (0, 2):
            out[y] = (line + (prior if kind == 2 else 0)) % 256
            continue
        row = np.zeros(stride, dtype=np.int32)
        for x in range(stride):
            left = row[x - channels] if x >= channels else 0
            up, corner = prior[x], prior[x - channels] if x >= channels else 0
            if kind == 1:
                guess = left
            elif kind == 3:
                guess = (left + up) // 2
            else:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                guess = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
            row[x] = (line[x] + guess) % 256
        out[y] = row
    return out.reshape(height, width, channels)[:, :, :3]


def test_the_report_renders_its_plots_with_nothing_fetched(tmp_path):
    rng = np.random.default_rng(SEED)
    baseline = _csv(tmp_path / "baseline.csv", _rows(rng, 500))
    shifted = _csv(tmp_path / "shifted.csv", _rows(rng, 300, shift=1.0))
    outcome = azml_check_drift("", "", "", str(tmp_path), baseline_path=baseline,
                               production_path=shifted)
    site = tmp_path / "site"
    site.mkdir()
    (site / "report.html").write_text(outcome.html)
    # The control: a page that fetches an image from elsewhere.
    (site / "control.html").write_text(
        '<html><body><img src="http://elsewhere.invalid/x.png"></body></html>')
    server = _serve(site)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        dom, requested = _browse(f"{base}/report.html", tmp_path)
        _, control = _browse(f"{base}/control.html", tmp_path / "control")
    finally:
        server.shutdown()
    assert "http://elsewhere.invalid/x.png" in control
    assert requested <= {f"{base}/report.html"}, requested
    # One histogram per feature, each with bars for both samples, in the rendered DOM.
    assert dom.count("<svg") == len(outcome.results) == 2
    assert dom.count('class="baseline"') > 0 and dom.count('class="production"') > 0
    pixels = _pixels(tmp_path / "shot.png")
    for colour in (BASELINE_BLUE, PRODUCTION_ORANGE):
        assert (pixels == colour).all(axis=2).sum() > 500, colour
