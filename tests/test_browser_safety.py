"""Several people at once, hostile text, and the server's own defences, in a real Chromium.

One Streamlit server (``python -m ui.serve`` with the repository's .streamlit/config.toml) on
127.0.0.1 serves an index of the bundled samples plus three hostile documents (fa, ar, en)
whose text holds HTML, scripts, Markdown images and links, ``javascript:`` and ``data:`` URLs,
an iframe and bidi overrides, all pointing at a canary HTTP server on 127.0.0.1 that records
every request. A fake OpenAI-compatible model (tests/openai_server.py) writes an answer made of
the same kind of text, connected through the app's model panel by one browser session only.

- ``test_sessions_are_isolated``: three browser contexts (three sessions) ask in Persian,
  Arabic and English at the same time, then upload a file each on the library page at the same
  time: each page shows its own question, answer and upload, never another's; the session that
  connected a model is the only one in connected mode.
- ``test_hostile_text_stays_inert``: extractive answers quoting the hostile sentences (fa, ar,
  en), the whole document opened, the library listing the hostile titles, and a model-written
  answer with the same payloads: the canary gets no request, no script runs (a payload would
  set ``window.__manba_pwned`` or open a dialog), the DOM holds no script, iframe, image or
  ``javascript:``/``data:`` link made from the text, the payloads are visible as text, and no
  bidi override or isolate from the text is in the page.
- ``test_error_shows_no_traceback``, ``test_upload_endpoint_refuses`` and the tests below
  them: the served settings (no traceback in the browser, allowed hosts, XSRF, upload size)
  and the upload limits enforced on the server (Streamlit's endpoint and ``index_uploads``).
"""

from __future__ import annotations

import http.client
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from browser_support import (
    Listener,
    chromium,
    listening,
    open_app,
    server_log,
    streamlit_server,
    submit_question,
    wait_answer,
    wait_idle,
)
from conftest import ROOT, SAMPLES, VENV_BIN
from openai_server import FakeModel, serve

from rag.config import Settings
from rag.indexing import index_paths
from ui.library import MB, UPLOADS, index_uploads
from ui.render import BIDI_CONTROLS

FLAG = "__manba_pwned"
# Bidi controls a hostile text may carry; the page's own isolates (FSI/PDI around names in
# the library's messages) are Manba's, so only these are looked for on the library page.
OVERRIDES = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067"


def payloads(port: int, tag: str) -> str:
    """Everything that must stay text, each pointing at the canary (path names the place)."""
    canary = f"http://127.0.0.1:{port}"
    return (
        f"<script>window.{FLAG}=1;fetch('{canary}/{tag}-script')</script> "
        f"<img src={canary}/{tag}-img onerror=window.{FLAG}=1> "
        f"![x]({canary}/{tag}-md) [link](javascript:window.{FLAG}=1) "
        f"[d](data:text/html,<script>window.{FLAG}=1</script>) "
        f"<a href=data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==>data link</a> "
        f"<iframe src={canary}/{tag}-iframe></iframe> "
        f'<object data="{canary}/{tag}-object"></object> '
        f"\u202eLIVERTEXT\u202c \u2066isolated\u2069 {canary}/{tag}-bare"
    )


QUESTIONS = {
    "en": "When do the Qeshm night ferries start?",
    "fa": "کشتی‌های شبانه قشم کی راه می‌افتند؟",
    "ar": "متى تبدأ العبارات الليلية إلى قشم؟",
}


def hostile_docs(port: int) -> dict[str, str]:
    """One document per language; its title and the sentence that answers its question carry
    the payloads (on one line: a line break ends a sentence)."""
    return {
        "qeshm-en.txt": (
            f"Qeshm ferry notes {payloads(port, 'title-en')}\n\n"
            "The harbour office of Qeshm island published its winter timetable on Monday.\n"
            f"The Qeshm night ferries start in May {payloads(port, 'doc-en')} says the office.\n"
            "Tickets cost the same as day crossings.\n"
        ),
        "qeshm-fa.txt": (
            f"یادداشت کشتی‌های قشم {payloads(port, 'title-fa')}\n\n"
            "اداره بندر جزیره قشم روز دوشنبه جدول زمستانی را منتشر کرد.\n"
            f"کشتی‌های شبانه قشم از اردیبهشت راه می‌افتند {payloads(port, 'doc-fa')} به گفته اداره.\n"
            "بهای بلیت همان بهای سفرهای روزانه است.\n"
        ),
        "qeshm-ar.txt": (
            f"ملاحظات عبارات قشم {payloads(port, 'title-ar')}\n\n"
            "نشر مكتب ميناء جزيرة قشم جدوله الشتوي يوم الاثنين.\n"
            f"تبدأ العبارات الليلية إلى قشم في مايو {payloads(port, 'doc-ar')} بحسب المكتب.\n"
            "سعر التذكرة هو نفسه في الرحلات النهارية.\n"
        ),
    }


def model_reply(port: int) -> Any:
    """The fake model: hostile translations, and a written answer in the three languages whose
    cited sentences and one uncited sentence (shown in a warning) carry the payloads."""

    def reply(messages: list[dict[str, Any]]) -> str:
        system = str(messages[0]["content"])
        if "translate search questions" in system:
            return json.dumps(
                {
                    "fa": f"کشتی شبانه قشم ![t](http://127.0.0.1:{port}/tr-fa)",
                    "ar": f"العبارات الليلية قشم <img src=http://127.0.0.1:{port}/tr-ar>",
                },
                ensure_ascii=False,
            )
        return (
            f"The Qeshm night ferries start in May {payloads(port, 'model-en')} [1]\n"
            f"کشتی‌های شبانه قشم از اردیبهشت راه می‌افتند {payloads(port, 'model-fa')} [1]\n"
            f"تبدأ العبارات الليلية في مايو {payloads(port, 'model-ar')} [1]\n"
            f"Nobody cites this MODELUNCITED line {payloads(port, 'model-uncited')}"
        )

    return reply


@pytest.fixture(scope="module")
def canary() -> Iterator[Listener]:
    with listening() as server:
        yield server


@pytest.fixture(scope="module")
def fake_model(canary: Listener) -> Iterator[FakeModel]:
    with serve(model_reply(canary.port)) as fake:
        yield fake


@pytest.fixture(scope="module")
def safety_index(tmp_path_factory: pytest.TempPathFactory, canary: Listener) -> Settings:
    folder = tmp_path_factory.mktemp("safety")
    hostile = folder / "hostile"
    hostile.mkdir()
    for name, text in hostile_docs(canary.port).items():
        (hostile / name).write_text(text, encoding="utf-8")
    settings = Settings().with_index(folder / "index")
    report = index_paths([SAMPLES, hostile], settings)
    assert report.ok and report.total_documents == 7, report
    return settings


@pytest.fixture(scope="module")
def app_url(safety_index: Settings) -> Iterator[str]:
    with streamlit_server({"MANBA_INDEX_DIR": str(safety_index.index_dir)}) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


class Watched:
    """A page in a context of its own (its own session), with every request it makes and
    every dialog it opens recorded."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))

        def on_dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", on_dialog)

    def text(self) -> str:
        return str(self.page.evaluate("() => document.body.innerText"))

    def close(self) -> None:
        self.context.close()


def go_to(page: Any, name: str) -> None:
    """Pick a page in the sidebar and wait for it to be drawn."""
    page.locator('[data-testid="stSidebar"]').get_by_text(name, exact=True).click()
    if name == "Ask":
        page.get_by_test_id("stChatInputTextArea").wait_for(timeout=30_000)
    else:
        page.get_by_role("heading", name="Add documents").wait_for(timeout=30_000)
    wait_idle(page)


def connect_model(page: Any, base_url: str) -> None:
    """Connect this session to the fake model through the sidebar's model panel."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Model (connected mode)").click()
    sidebar.get_by_label("Base URL").fill(base_url)
    sidebar.get_by_label("Chat model").fill("canary-model")
    sidebar.get_by_role("button", name="Apply").click()
    sidebar.get_by_text("answers written by canary-model", exact=False).wait_for(timeout=30_000)
    wait_idle(page)


def upload(page: Any, name: str, text: str) -> None:
    """Choose one file in the library's uploader and start indexing it."""
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        files=[{"name": name, "mimeType": "text/plain", "buffer": text.encode("utf-8")}]
    )
    page.get_by_role("button", name="Index 1 file(s)").click(timeout=30_000)


def upload_area(page: Any) -> str:
    """The text of the upload widget and of the status messages (upload results)."""
    parts = page.locator('[data-testid="stFileUploader"], [data-testid="stAlert"]')
    return " ".join(parts.all_inner_texts())


def test_sessions_are_isolated(browser: Any, app_url: str, fake_model: FakeModel) -> None:
    langs = ("fa", "ar", "en")
    questions = {
        "fa": "پوتین و اردوغان درباره ادلب چه گفتند؟",
        "ar": "ماذا ناقش بوتين وأردوغان بشأن إدلب؟",
        "en": "What did Putin and Erdogan discuss about Idlib?",
    }
    files = {
        "fa": ("گزارش-جلسه-فارسی.txt", "گزارش جلسه شورای شهر کرمان درباره آب آشامیدنی.\n"),
        "ar": ("تقرير-الجلسة-العربي.txt", "تقرير جلسة مجلس مدينة صور حول مياه الشرب.\n"),
        "en": ("council-minutes-english.txt", "Minutes of the Galway council on drinking water.\n"),
    }
    pages = {lang: Watched(browser) for lang in langs}
    try:
        for w in pages.values():
            open_app(w.page, app_url)
        # The English session alone connects a model (a per-session setting).
        connect_model(pages["en"].page, fake_model.base_url)
        for lang in langs:  # three questions in flight at once
            submit_question(pages[lang].page, questions[lang])
        for lang in langs:
            wait_answer(pages[lang].page, timeout=60_000)
        for lang in langs:
            text = pages[lang].text()
            assert questions[lang] in text, lang
            for other in langs:
                if other != lang:
                    assert questions[other] not in text, (lang, other)
            mode = pages[lang].page.locator('[data-testid="stSidebar"]').inner_text()
            assert ("canary-model" in mode) == (lang == "en"), (lang, mode)
        assert len(pages["en"].page.locator('[data-testid="stChatMessage"]').all()) == 2
        # Uploads at the same time, one per session.
        for lang in langs:
            go_to(pages[lang].page, "Library")
        for lang in langs:
            upload(pages[lang].page, *files[lang])
        for lang in langs:
            page = pages[lang].page
            page.locator('[data-testid="stAlert"]').filter(has_text=files[lang][0]).first.wait_for(
                timeout=60_000
            )
            wait_idle(page)
        for lang in langs:
            area = upload_area(pages[lang].page)
            assert files[lang][0] in area and "indexed" in area, (lang, area)
            for other in langs:
                if other != lang:
                    assert files[other][0] not in area, (lang, other, area)
        # Back on the ask page, each conversation is still its own.
        for lang in langs:
            go_to(pages[lang].page, "Ask")
            text = pages[lang].text()
            assert questions[lang] in text
            assert not [q for o, q in questions.items() if o != lang and q in text], lang
        for w in pages.values():
            hosts = {urlparse(u).hostname for u in w.requests if u.startswith("http")}
            assert hosts <= {"127.0.0.1", "localhost"}, hosts
    except Exception:
        print(server_log(int(urlparse(app_url).port or 0)))  # shown with the failure
        raise
    finally:
        for w in pages.values():
            w.close()


def assert_inert(w: Watched, canary: Listener, overrides: str = BIDI_CONTROLS) -> None:
    """Nothing from the text became live: no request to the canary (from the page or
    anywhere), no script ran, no element was made from the text, no bidi control shown."""
    page = w.page
    wait_idle(page)
    # A fetch from an element is issued as the element enters the DOM, long before the run
    # ends; a moment more for a slow machine, then every check below is on what is there.
    page.wait_for_timeout(500)
    port = f":{canary.port}"
    assert not [u for u in w.requests if port in u], w.requests
    assert canary.paths == [], canary.paths
    assert page.evaluate(f"() => window.{FLAG} === undefined")
    assert w.dialogs == []
    found = page.evaluate(
        """port => {
          const app = document.querySelector('[data-testid="stApp"]');
          const q = s => Array.from(app.querySelectorAll(s)).map(e => e.outerHTML.slice(0, 120));
          return {
            script: q('script'),
            iframe: q('iframe, object, embed, frame'),
            img: q('[data-testid="stMarkdownContainer"] img, [data-testid="stAlert"] img,'
                   + ' .manba-text img, [role="dialog"] img'),
            js: q('a[href^="javascript:" i], [src^="javascript:" i]'),
            data: q('a[href^="data:" i], iframe[src^="data:" i], object[data^="data:" i]'),
            canary: q(`[src*="${port}"], [href*="${port}"], [data*="${port}"]`),
            handlers: q('[onerror], [onload], [onclick]'),
          };
        }""",
        port,
    )
    assert not {k: v for k, v in found.items() if v}, {k: v for k, v in found.items() if v}
    html = page.content()
    text = w.text()
    for c in overrides:
        assert c not in text and c not in html, hex(ord(c))


def test_hostile_text_stays_inert(
    browser: Any, app_url: str, canary: Listener, fake_model: FakeModel
) -> None:
    offline = Watched(browser)
    written = Watched(browser)
    try:
        # Extractive answers quoting the hostile sentences, one per language.
        open_app(offline.page, app_url)
        for n, lang in enumerate(("fa", "ar", "en"), 1):
            submit_question(offline.page, QUESTIONS[lang])
            wait_answer(offline.page, n)
        shown = offline.text()
        for lang in ("fa", "ar", "en"):
            # The payload is on the page as text, inside the cited passage.
            assert f"window.{FLAG}=1;fetch('http://127.0.0.1:{canary.port}/doc-{lang}-script')" in (
                shown
            ), lang
        marks = " ".join(offline.page.locator(".manba-card mark").all_inner_texts())
        assert "<iframe src=" in marks and "![x](" in marks, marks
        assert "LIVERTEXT" in shown
        assert_inert(offline, canary)
        # The whole hostile document, opened from its card.
        offline.page.get_by_text("Open in the document").last.click()
        offline.page.get_by_role("dialog").locator("mark").wait_for(timeout=30_000)
        assert "<object data=" in offline.page.get_by_role("dialog").inner_text()
        assert_inert(offline, canary)
        offline.page.keyboard.press("Escape")
        offline.page.get_by_role("dialog").wait_for(state="detached", timeout=30_000)
        # The library lists the hostile titles.
        go_to(offline.page, "Library")
        table = offline.page.locator("table.manba-docs")
        table.wait_for(timeout=30_000)
        assert "<script>window." in table.inner_text()
        assert_inert(offline, canary, OVERRIDES)

        # A model-written answer carrying the same payloads, in its own session.
        open_app(written.page, app_url)
        connect_model(written.page, fake_model.base_url)
        submit_question(written.page, QUESTIONS["en"])
        wait_answer(written.page, timeout=60_000)
        text = written.text()
        assert "Written by canary-model" in text, text
        answer = written.page.locator(".manba-answer").inner_text()
        for lang in ("en", "fa", "ar"):
            assert f"/model-{lang}-img onerror=window.{FLAG}=1>" in answer, (lang, answer)
        # The uncited sentence is shown in a warning, as text.
        warning = written.page.locator('[data-testid="stAlert"]').filter(has_text="MODELUNCITED")
        # (with a word joiner before each ":" that keeps Markdown from linking the URLs)
        shown_warning = warning.inner_text().replace("\u2060", "")
        assert f"![x](http://127.0.0.1:{canary.port}/model-uncited-md)" in shown_warning
        # The hostile translations are shown too, as text.
        assert "/tr-ar>" in text and "/tr-fa)" in text, text
        assert any(r.get("model") == "canary-model" for r in fake_model.requests)
        assert_inert(written, canary)
    except Exception:
        print(server_log(int(urlparse(app_url).port or 0)))  # shown with the failure
        raise
    finally:
        offline.close()
        written.close()


# --- the server's settings -----------------------------------------------------------------


def test_config_is_hardened() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text("utf-8"))
    server, client = config["server"], config["client"]
    assert client["showErrorDetails"] in ("none", False)
    assert server["enableXsrfProtection"] is True
    assert server["address"] == "127.0.0.1"
    assert server["allowedHosts"] and set(server["allowedHosts"]) <= {"localhost", "127.0.0.1"}
    assert 0 < server["maxUploadSize"] <= Settings().upload.max_mb
    assert config["browser"]["gatherUsageStats"] is False


BOOM = """import streamlit as st
st.write("before the error")
raise RuntimeError("SECRET-DETAIL in /srv/manba/private.py")
"""


def test_error_shows_no_traceback(browser: Any, tmp_path: Path) -> None:
    """An exception the app does not catch: the browser is told an error happened, never
    what or where (the served config is the repository's, from its root)."""
    script = tmp_path / "boom.py"
    script.write_text(BOOM, encoding="utf-8")
    command = [str(VENV_BIN / "python"), "-m", "streamlit", "run", str(script)]
    with streamlit_server({}, command) as port:
        w = Watched(browser)
        try:
            w.page.goto(f"http://127.0.0.1:{port}", wait_until="domcontentloaded")
            w.page.get_by_text("before the error").wait_for(timeout=30_000)
            error = w.page.locator('[data-testid="stException"], [data-testid="stAlert"]')
            error.first.wait_for(timeout=30_000)
            wait_idle(w.page)
            text = w.text()
            for secret in ("SECRET-DETAIL", "RuntimeError", "Traceback", "private.py", "boom.py"):
                assert secret not in text, (secret, text)
            assert "SECRET-DETAIL" not in w.page.content()
        finally:
            w.close()


def _put(port: int, path: str, headers: dict[str, str]) -> int:
    """The status of a PUT with these headers and no body sent (the size is announced)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.putrequest("PUT", path)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def test_upload_endpoint_refuses(browser: Any, app_url: str, safety_index: Settings) -> None:
    """Streamlit's upload endpoint, as the app serves it: a PUT without the page's XSRF token
    is refused (403), one announcing more than server.maxUploadSize is refused (413) even with
    it, and a file named ../../ lands in the uploads folder under a name of Manba's making."""
    w = Watched(browser)
    puts: list[Any] = []
    w.page.on("request", lambda r: puts.append(r) if r.method == "PUT" else None)
    try:
        open_app(w.page, app_url)
        go_to(w.page, "Library")
        upload(w.page, "../../escape-خروج.txt", "Qeshm harbour escape test. بندر قشم.\n")
        w.page.locator('[data-testid="stAlert"]').filter(has_text="escape").first.wait_for(
            timeout=60_000
        )
        assert puts, "the browser uploaded through a PUT"
        put = puts[0]
        headers = put.all_headers()
        token = headers.get("x-xsrftoken", "")
        assert token, headers
        cookies = "; ".join(f"{c['name']}={c['value']}" for c in w.context.cookies())
        port = int(urlparse(app_url).port or 0)
        path = urlparse(put.url).path
        config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text("utf-8"))
        limit = int(config["server"]["maxUploadSize"])
        big = {"Content-Length": str(limit * MB + 2 * MB), "Content-Type": "multipart/form-data"}
        assert _put(port, path, big) == 403  # no XSRF token
        assert _put(port, path, {**big, "X-Xsrftoken": token, "Cookie": cookies}) == 413
        # The file sent as ../../escape-خروج.txt is in the uploads folder, and nowhere above.
        uploads = safety_index.index_dir / UPLOADS
        names = [p.name for p in uploads.iterdir() if p.is_file()]
        assert "escape-خروج.txt" in names, names
        for up in (safety_index.index_dir.parent, safety_index.index_dir.parent.parent):
            assert not (up / "escape-خروج.txt").exists()
    finally:
        w.close()


def test_index_uploads_limits_on_the_server(tmp_path: Path) -> None:
    """index_uploads, whatever the browser did: over the size limit or of a refused type is
    refused unwritten; a name with ../ is stored under a name made by Manba inside the
    uploads folder of the index (the first upload builds the index)."""
    settings = Settings().with_index(tmp_path / "data" / "index")
    limit = settings.upload.max_mb
    results = index_uploads(
        [
            ("big.txt", b"a" * (limit * MB + 1)),
            ("tool.exe", b"MZ not a document"),
            ("page.svg", b"<svg onload=alert(1)></svg>"),
            ("../../x.txt", "گزارش کوتاه درباره بندر قشم و کشتی‌های شبانه.\n".encode()),
            ("..\\..\\y.md", "تقرير قصير عن ميناء قشم والعبارات الليلية.\n".encode()),
            ("/etc/z.txt", b"A short report about Qeshm harbour and the night ferries.\n"),
        ],
        settings,
    )
    big, exe, svg, x, y, z = results
    assert big.status == "failed" and "over the limit" in big.problems[0], big
    assert exe.status == "failed" and "unsupported file type" in exe.problems[0], exe
    assert svg.status == "failed" and "unsupported file type" in svg.problems[0], svg
    assert [r.status for r in (x, y, z)] == ["added"] * 3, results
    uploads = (settings.index_dir / UPLOADS).resolve()
    for r in (x, y, z):
        assert "/" not in r.stored_as and "\\" not in r.stored_as and ".." not in r.stored_as
        assert (uploads / r.stored_as).resolve().parent == uploads
    assert sorted(p.name for p in uploads.iterdir() if p.is_file()) == ["x.txt", "y.md", "z.txt"]
    assert not (tmp_path / "x.txt").exists() and not (tmp_path / "data" / "x.txt").exists()
    assert not list(tmp_path.rglob("big.txt")) and not list(tmp_path.rglob("tool.exe"))
