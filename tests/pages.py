"""Checks shared by the tests of the two static pages (distill's run report and pv's contract
dashboard): HTML validity (html5lib, strict) and a real browser (headless Debian chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import html5lib
import pytest

PROBE_ID = "pv-test-probe"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",  # run every load handler and timer before dumping
)


def assert_valid_html(text: str) -> None:
    """html5lib in strict mode raises on the first parse error (the WHATWG algorithm's)."""
    html5lib.HTMLParser(strict=True).parse(text)


def chromium() -> str:
    """The chromium binary, or a skip that says how to get one (.ci/run installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("no headless browser: install Debian's chromium package to run this test")
    return found


def _run(args: list[str], tmp: Path) -> str:
    profile = tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    done = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def probe(page: Path, script: str, tmp: Path) -> dict[str, object]:
    """Open a copy of `page` with `script` appended, which must set `window.probe` to a JSON
    value on load; returns that value as the browser computed it from the rendered DOM."""
    copy = tmp / f"probe-{page.name}"
    wrapper = (
        "<script>window.addEventListener('load', function () {"
        f"{script}"
        f"var out = document.createElement('pre'); out.id = '{PROBE_ID}';"
        "out.textContent = JSON.stringify(window.probe); document.body.appendChild(out);"
        "});</script></body>"
    )
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", wrapper), "utf-8")
    dom = _run(["--dump-dom", copy.as_uri()], tmp)
    found = re.search(rf'<pre id="{PROBE_ID}">(.*?)</pre>', dom, re.S)
    assert found is not None, dom[-2000:]
    text = found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    value = json.loads(text.replace("&amp;", "&"))
    assert isinstance(value, dict)
    return value


def assert_screenshot_not_blank(page: Path, tmp: Path) -> Path:
    """A 1000x800 screenshot with real content: many colours, not one flat fill."""
    from PIL import Image

    shot = tmp / f"{page.stem}.png"
    _run([f"--screenshot={shot}", "--window-size=1000,800", page.as_uri()], tmp)
    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        assert rgb.size == (1000, 800)
    assert len(colours) > 20, f"screenshot of {page.name} is blank ({len(colours)} colours)"
    dark = sum(n for n, c in colours if sum(c) < 200)
    assert dark > 500, "no text drawn"
    return shot
