"""Shared by the browser tests: Debian's Chromium driven by pip playwright, the app served by
a real Streamlit process on a loopback port, and a loopback listener that records every
request it gets (a leak out of the page would land there).

Importing this module skips the importing test module when Chromium or playwright is missing
(outside CI).
"""

from __future__ import annotations

import contextlib
import http.server
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, VENV_BIN

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Listener(http.server.ThreadingHTTPServer):
    """A local HTTP server that records every path asked of it (a leak would land here)."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self) -> None:
                listener.paths.append(f"{self.command} {self.path}")
                self.send_response(204)
                self.end_headers()

            do_GET = do_POST = do_PUT = do_HEAD = do_OPTIONS = _record

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@contextlib.contextmanager
def listening() -> Iterator[Listener]:
    server = Listener()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


SERVER_LOGS: dict[int, Path] = {}


def server_log(port: int) -> str:
    """What the server on ``port`` printed so far (its log file)."""
    path = SERVER_LOGS.get(port)
    return path.read_text("utf-8", errors="replace") if path and path.exists() else ""


@contextlib.contextmanager
def streamlit_server(
    env: dict[str, str], command: list[str] | None = None, timeout: float = 60
) -> Iterator[int]:
    """A Streamlit server on 127.0.0.1 with the repository's .streamlit/config.toml (run from
    the repository's root), started the way ``make run`` starts it (``python -m ui.serve``)
    unless ``command`` says otherwise; yields its port once /_stcore/health answers. Its
    output goes to a file (``SERVER_LOGS[port]``), never to a pipe nobody reads."""
    port = free_port()
    argv = command or [str(VENV_BIN / "python"), "-m", "ui.serve"]
    log = Path(tempfile.mkstemp(prefix="manba-streamlit-", suffix=".log")[1])
    SERVER_LOGS[port] = log
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*argv, "--server.port", str(port)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.3)
        else:
            proc.kill()
            raise RuntimeError(f"streamlit did not come up on {url}:\n{server_log(port)}")
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited ({proc.returncode}):\n{server_log(port)}")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        SERVER_LOGS.pop(port, None)
        log.unlink(missing_ok=True)


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    with playwright_sync.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def wait_idle(page: object, timeout: float = 30_000) -> None:
    """Wait for the app's script run to be over."""
    page.locator(  # type: ignore[attr-defined]
        '[data-testid="stApp"][data-test-script-state="notRunning"]'
    ).wait_for(timeout=timeout)


def open_app(page: object, url: str) -> None:
    """Load the app and wait for the question box (the first run is over)."""
    page.goto(url, wait_until="domcontentloaded")  # type: ignore[attr-defined]
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=30_000)  # type: ignore[attr-defined]


def submit_question(page: object, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")  # type: ignore[attr-defined]
    box.wait_for(timeout=30_000)
    box.fill(question)
    box.press("Enter")


def wait_answer(page: object, count: int = 1, timeout: float = 45_000) -> None:
    """Wait for the ``count``-th answer of the page to be complete: its highlighted cited
    sentence is on the page and the script run is over."""
    page.wait_for_function(  # type: ignore[attr-defined]
        "n => document.querySelectorAll('.manba-card mark').length > 0 &&"
        " document.querySelectorAll('[data-testid=\"stChatMessage\"]').length >= 2 * n",
        arg=count,
        timeout=timeout,
    )
    wait_idle(page, timeout)
