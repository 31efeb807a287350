"""The app in a real headless Chromium: ask in English and Persian, read the cited answer.

Streamlit runs as a real server process on 127.0.0.1; Chromium (Debian's, driven by pip
playwright through ``executable_path``) is started with background networking off, and every
request the page makes is checked to stay on this machine. The index holds the bundled
samples and one hostile document whose text tries to become Markdown and HTML.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from browser_support import Listener, chromium, listening, streamlit_server
from conftest import ROOT, SAMPLES

from rag.config import Settings
from rag.engine import Engine
from rag.indexing import index_paths
from rag.retrieval import Filters
from rag.types import Answer


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    with listening() as server:
        yield server


HOSTILE_QUESTION = "When do the Zanzibar night ferries to Pemba island start?"


def hostile_text(port: int) -> str:
    """A blank line of bare carriage returns (it used to end the app's HTML block), then an
    image that would call the listener, raw HTML with a handler, a javascript: link and a
    bare URL; the cited sentence comes after all of it."""
    return (
        "Zanzibar ferry council approves night crossings\n\n"
        "The Zanzibar ferry council approved night crossings to Pemba island on Monday.\r\r"
        f"![x](http://127.0.0.1:{port}/leak) <img src=x onerror=alert(1)> "
        f"[click](javascript:alert(1)) www.example.com http://127.0.0.1:{port}/autolink\r\r"
        "The council said the night ferries to Pemba island start in May.\r\n"
        "Tickets cost the same as day crossings.\u2028More crossings follow in June.\n"
        "<script>alert(2)</script> Notice: \u202eyad yreve sevael yrref ehT\u202c.\n"
    )


@pytest.fixture(scope="module")
def app_index(tmp_path_factory: pytest.TempPathFactory, listener: Listener) -> Settings:
    """The bundled samples plus the hostile document, which points at this module's listener."""
    folder = tmp_path_factory.mktemp("browser")
    hostile = folder / "hostile"
    hostile.mkdir()
    (hostile / "zanzibar.txt").write_text(hostile_text(listener.port), encoding="utf-8", newline="")
    settings = Settings().with_index(folder / "index")
    report = index_paths([SAMPLES, hostile], settings)
    assert report.ok and report.total_documents == 5, report
    return settings


@pytest.fixture(scope="module")
def app_port(app_index: Settings) -> Iterator[int]:
    """A Streamlit server on 127.0.0.1 with the repository's .streamlit/config.toml, started
    the way ``make run`` starts it (``python -m ui.serve``)."""
    with streamlit_server({"MANBA_INDEX_DIR": str(app_index.index_dir)}) as port:
        yield port


@pytest.fixture(scope="module")
def app_url(app_port: int) -> str:
    return f"http://127.0.0.1:{app_port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


def _ask(
    browser: object,
    url: str,
    question: str,
    dialogs: list[str] | None = None,
    viewport: tuple[int, int] = (1280, 900),
) -> tuple[object, list[str]]:
    width, height = viewport
    page = browser.new_page(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    if dialogs is not None:

        def on_dialog(d: object) -> None:
            dialogs.append(d.message)  # type: ignore[attr-defined]
            d.dismiss()  # type: ignore[attr-defined]

        page.on("dialog", on_dialog)
    page.goto(url, wait_until="domcontentloaded")
    box = page.get_by_test_id("stChatInputTextArea")
    box.wait_for(timeout=30_000)
    box.fill(question)
    box.press("Enter")
    # The answer is complete once a highlighted cited sentence is on the page and the script
    # run is over (the chat view keeps scrolling to the bottom while elements arrive).
    page.locator("div.manba-text mark").first.wait_for(timeout=30_000)
    page.locator(  # type: ignore[attr-defined]
        '[data-testid="stApp"][data-test-script-state="notRunning"]'
    ).wait_for(timeout=30_000)
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


def test_browser_at_localhost(browser: object, app_port: int) -> None:
    """`make run` users open http://localhost:8501: the allowed hosts must include it."""
    page, _ = _ask(browser, f"http://localhost:{app_port}", "What did Putin and Erdogan discuss?")
    assert "[1]" in page.inner_text("body")  # type: ignore[attr-defined]
    page.close()  # type: ignore[attr-defined]


def _websocket_status(port: int, host: str) -> str:
    """The status line Streamlit answers a WebSocket upgrade sent with this Host header."""
    request = (
        "GET /_stcore/stream HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request.encode("ascii"))
        return s.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def test_websocket_only_for_allowed_hosts(app_port: int) -> None:
    """server.allowedHosts: a page served under another name (DNS rebinding) gets no socket."""
    for host in (f"localhost:{app_port}", f"127.0.0.1:{app_port}"):
        assert " 101 " in _websocket_status(app_port, host), host
    for host in (f"attacker.example:{app_port}", "rebind.127.0.0.1.nip.io"):
        status = _websocket_status(app_port, host)
        assert " 101 " not in status, (host, status)


def test_browser_hostile_document_stays_text(
    browser: object, app_url: str, listener: Listener
) -> None:
    dialogs: list[str] = []
    page, requests = _ask(browser, app_url, HOSTILE_QUESTION, dialogs)
    # The document is cited and its passage shown, the hostile part as plain text.
    card_text = page.locator("div.manba-text").all_inner_texts()  # type: ignore[attr-defined]
    passage = next(t for t in card_text if "Tickets cost the same" in t)
    assert "![x](http://127.0.0.1:" in passage and "<img src=x onerror=alert(1)>" in passage
    page.wait_for_timeout(1000)  # type: ignore[attr-defined]  # time for any fetch to happen
    assert not [u for u in requests if f":{listener.port}/" in u], requests
    assert listener.paths == []
    markdown = page.locator('[data-testid="stMarkdownContainer"]')  # type: ignore[attr-defined]
    assert markdown.locator("img").count() == 0
    assert page.locator('a[href^="javascript:" i]').count() == 0  # type: ignore[attr-defined]
    # No link made of document text (Streamlit's own heading anchors are outside these): the
    # only links in text blocks are Manba's citation markers, each to a card of this page.
    links = page.locator("div.manba-text a")  # type: ignore[attr-defined]
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs and all(re.fullmatch(r"#cite-0-\d+", h or "") for h in hrefs), hrefs
    assert links.count() == page.locator("div.manba-text a.manba-marker").count()  # type: ignore[attr-defined]
    assert "<script>alert(2)</script>" in " ".join(card_text)
    # The right-to-left override in the document does not reverse the text around it.
    assert "\u202e" not in page.content()  # type: ignore[attr-defined]
    assert "yad yreve sevael yrref ehT" in " ".join(card_text)
    assert dialogs == []
    page.close()  # type: ignore[attr-defined]


CROSS_QUESTION = "Putin and Erdogan Idlib?"
SCREENSHOTS = ROOT / "reports" / "screenshots"
DESKTOP = (1280, 900)
PHONE = (400, 850)


@pytest.fixture(scope="module")
def expected(app_index: Settings) -> Answer:
    """What the engine answers on the app's index, with the app's default number of passages
    and no filter: the cards in the page must show exactly these citations."""
    with Engine(app_index) as engine:
        return engine.ask(CROSS_QUESTION, min(max(app_index.retrieval.k, 1), 20), Filters())


def _in_viewport(locator: object) -> bool:
    return bool(
        locator.evaluate(  # type: ignore[attr-defined]
            "e => { const r = e.getBoundingClientRect();"
            " return r.top >= 0 && r.top < window.innerHeight && r.bottom > 0; }"
        )
    )


def test_browser_cards_in_three_languages(browser: object, app_url: str, expected: Answer) -> None:
    """Markers link to one card per citation; the cards hold fa, ar and en passages, the
    Persian and Arabic ones right to left, each with the cited sentence highlighted exactly."""
    assert {c.lang for c in expected.citations} == {"fa", "ar", "en"}, expected.citations
    page, requests = _ask(browser, app_url, CROSS_QUESTION)
    markers = page.locator("a.manba-marker")  # type: ignore[attr-defined]
    hrefs = [markers.nth(i).get_attribute("href") for i in range(markers.count())]
    assert hrefs == [f"#cite-0-{c.n}" for c in expected.citations]
    assert [markers.nth(i).inner_text() for i in range(markers.count())] == [
        f"[{c.n}]" for c in expected.citations
    ]
    for c in expected.citations:
        card = page.locator(f"#cite-0-{c.n}")  # type: ignore[attr-defined]
        assert card.count() == 1, c.n
        assert card.get_attribute("lang") == c.lang
        assert card.locator(".manba-badge").inner_text().strip() == c.lang
        passage = card.locator("div.manba-text")
        if c.lang in ("fa", "ar"):
            assert card.get_attribute("dir") == "rtl"
            assert passage.get_attribute("dir") == "rtl"
            font = passage.evaluate("e => getComputedStyle(e).fontFamily")
            assert "Vazirmatn" in font and "Noto Naskh Arabic" in font, font
        else:
            assert passage.get_attribute("dir") == "ltr"
        # textContent, not innerText: the quote's own spacing, exactly as stored.
        assert card.locator("mark").text_content() == c.quote, c.n
    hosts = {urlparse(u).hostname for u in requests if u.startswith("http")}
    assert hosts <= {"127.0.0.1", "localhost"}, hosts
    page.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_browser_marker_brings_its_card_into_view(
    browser: object, app_url: str, expected: Answer, viewport: tuple[int, int]
) -> None:
    """Following the last marker brings its card into view (on a desktop the sources column
    scrolls on its own; on a phone the cards stack below the answer) and makes it the page's
    target."""
    page, _ = _ask(browser, app_url, CROSS_QUESTION, viewport=viewport)
    n = expected.citations[-1].n
    card = page.locator(f"#cite-0-{n}")  # type: ignore[attr-defined]
    marker = page.locator(f'a.manba-marker[href="#cite-0-{n}"]')  # type: ignore[attr-defined]
    marker.scroll_into_view_if_needed()
    assert not _in_viewport(card), "seen from its marker, the card is out of view"
    marker.click()
    page.wait_for_function(f"location.hash === '#cite-0-{n}'")  # type: ignore[attr-defined]
    # The scroll may be smooth and a loaded CI machine slow to paint: wait for the card to come
    # into view (up to 10 s) rather than sampling once after a fixed pause.
    page.wait_for_function(  # type: ignore[attr-defined]
        "id => { const r = document.getElementById(id).getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight && r.bottom > 0; }",
        arg=f"cite-0-{n}",
        timeout=10_000,
    )
    assert _in_viewport(card)
    assert card.evaluate("e => e.matches(':target')")
    # Still the same answer: following a marker does not rerun or reload the app.
    assert page.locator("a.manba-marker").count() == len(expected.citations)  # type: ignore[attr-defined]
    page.close()  # type: ignore[attr-defined]


def test_browser_no_horizontal_overflow_on_a_phone(browser: object, app_url: str) -> None:
    page, _ = _ask(browser, app_url, CROSS_QUESTION, viewport=PHONE)
    page.get_by_text("Copy as Markdown").click()  # type: ignore[attr-defined]
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    widths = page.evaluate(  # type: ignore[attr-defined]
        "() => { const m = document.querySelector("
        '\'[data-testid="stAppScrollToBottomContainer"], [data-testid="stMain"]\');'
        " return [document.documentElement.scrollWidth, m.scrollWidth, m.clientWidth]; }"
    )
    assert widths[0] <= PHONE[0], widths
    assert widths[1] <= widths[2], widths
    page.close()  # type: ignore[attr-defined]


def test_browser_screenshots(browser: object, app_url: str) -> None:
    """Screenshots of the ask page (desktop and phone) and of the library page, for review."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page, _ = _ask(browser, app_url, CROSS_QUESTION, viewport=viewport)
        # The chat view rests at the bottom of the page: first the question and answer.
        page.get_by_test_id("stChatMessage").first.evaluate("e => e.scrollIntoView()")  # type: ignore[attr-defined]
        page.wait_for_timeout(800)  # type: ignore[attr-defined]
        page.screenshot(path=str(SCREENSHOTS / f"ask-{name}.png"))  # type: ignore[attr-defined]
        marker = page.locator("a.manba-marker").last  # type: ignore[attr-defined]
        marker.click()
        page.wait_for_timeout(800)  # type: ignore[attr-defined]
        page.screenshot(path=str(SCREENSHOTS / f"ask-{name}-cards.png"))  # type: ignore[attr-defined]
        page.get_by_text("Open in the document").last.click()  # type: ignore[attr-defined]
        page.get_by_role("dialog").locator("mark").wait_for(timeout=30_000)  # type: ignore[attr-defined]
        page.wait_for_timeout(800)  # type: ignore[attr-defined]
        page.screenshot(path=str(SCREENSHOTS / f"ask-{name}-document.png"))  # type: ignore[attr-defined]
        page.close()  # type: ignore[attr-defined]
    page = browser.new_page(viewport={"width": DESKTOP[0], "height": DESKTOP[1]})  # type: ignore[attr-defined]
    page.goto(app_url, wait_until="domcontentloaded")
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=30_000)
    library = page.locator('[data-testid="stSidebar"]').get_by_text("Library", exact=True)
    if library.count():
        library.click()
        page.wait_for_timeout(2000)
        page.screenshot(path=str(SCREENSHOTS / "library-desktop.png"))
        page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
        page.wait_for_timeout(1000)
        page.screenshot(path=str(SCREENSHOTS / "library-phone.png"))
    page.close()
    assert (SCREENSHOTS / "ask-desktop.png").stat().st_size > 10_000
    assert (SCREENSHOTS / "ask-phone.png").stat().st_size > 10_000
