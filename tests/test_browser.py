"""The app in a real headless Chromium: ask in English and Persian, read the cited answer.

Streamlit runs as a real server process on 127.0.0.1; Chromium (Debian's, driven by pip
playwright through ``executable_path``) is started with background networking off, and every
request the page makes is checked to stay on this machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import ROOT, VENV_BIN

from rag.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium (apt-get install chromium)")
    pytest.skip(
        "Debian chromium is not installed: apt-get install chromium", allow_module_level=True
    )

playwright_sync = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(built_index: Settings) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "MANBA_INDEX_DIR": str(built_index.index_dir)}
    proc = subprocess.Popen(
        [str(VENV_BIN / "streamlit"), "run", "app.py", "--server.port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        out = proc.stdout.read().decode() if proc.stdout else ""
        raise RuntimeError(f"streamlit did not come up on {url}:\n{out}")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _ask(browser: object, url: str, question: str) -> tuple[object, list[str]]:
    page = browser.new_page()  # type: ignore[attr-defined]
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url, wait_until="domcontentloaded")
    box = page.get_by_test_id("stChatInputTextArea")
    box.wait_for(timeout=30_000)
    box.fill(question)
    box.press("Enter")
    # The answer is complete once a highlighted cited sentence is on the page.
    page.locator("div.manba-text mark").first.wait_for(timeout=30_000)
    return page, requests


@pytest.mark.parametrize(
    ("question", "doc_prefix", "direction"),
    [
        ("What did Putin and Erdogan discuss about Idlib?", "001_", "ltr"),
        ("پوتین و اردوغان درباره ادلب چه گفتند؟", "000_", "rtl"),
        ("ماذا ناقش بوتين وأردوغان بشأن إدلب؟", "003_", "rtl"),
    ],
)
def test_browser_shows_cited_answer(
    browser: object, app_url: str, question: str, doc_prefix: str, direction: str
) -> None:
    page, requests = _ask(browser, app_url, question)
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "[1]" in body
    assert doc_prefix in body
    # The cited sentence is highlighted inside its passage, in the passage's direction.
    marks = page.locator(f'div[dir="{direction}"] mark')  # type: ignore[attr-defined]
    assert marks.count() >= 1
    assert marks.first.inner_text().strip()
    hosts = {urlparse(u).hostname for u in requests if u.startswith("http")}
    assert hosts <= {"127.0.0.1", "localhost"}, hosts
    page.close()  # type: ignore[attr-defined]
