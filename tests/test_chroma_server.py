"""Vectors on a real Chroma server (`chroma run`): ingest, ask and eval against it, nothing in
the index folder's chroma/, one collection per index, removals reach the server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import CORPUS, MINI, QA, SAMPLES, VENV_BIN
from test_ingest import assert_store_consistent

from rag import vectorstore
from rag.cli import main
from rag.config import Settings, StoreSettings
from rag.engine import Engine
from rag.errors import VectorStoreError
from rag.evaluation import run_eval
from rag.indexing import index_paths, remove_documents
from rag.retrieval import Searcher
from rag.store import IndexReader

pytestmark = pytest.mark.filterwarnings(
    "ignore:legacy embedding function config:DeprecationWarning"
)

CHROMA = VENV_BIN / "chroma"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _heartbeat(url: str) -> bool:
    # No proxy: a proxy from the environment would send loopback requests elsewhere.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/api/v2/heartbeat", timeout=1) as resp:
            return "nanosecond heartbeat" in json.loads(resp.read())
    except OSError:
        return False


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server on a free loopback port, with its own data folder, for this module."""
    if not CHROMA.exists():
        pytest.skip(f"no chroma CLI at {CHROMA}")
    data = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "NO_PROXY": "127.0.0.1,localhost"}
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            str(CHROMA),
            "run",
            "--path",
            str(data / "db"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("NO_PROXY", "127.0.0.1,localhost")  # for chromadb's httpx client in this process
    try:
        deadline = time.monotonic() + 20
        while not _heartbeat(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chroma run did not come up: {(data / 'server.log').read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        mp.undo()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _on_server(url: str, index_dir: Path, **retrieval: Any) -> Settings:
    settings = Settings(store=StoreSettings(chroma_url=url)).with_index(index_dir)
    if retrieval:
        settings = replace(settings, retrieval=replace(settings.retrieval, **retrieval))
    return settings


def _count(settings: Settings) -> int:
    name = vectorstore.collection_name(settings)
    return int(vectorstore.client(settings).get_collection(name).count())


@pytest.fixture(scope="module")
def samples_on_server(chroma_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = _on_server(
        chroma_url, tmp_path_factory.mktemp("a") / "index", dense_backend="chroma"
    )
    report = index_paths([SAMPLES], settings)
    assert report.ok and report.total_documents == 4, report
    return settings


def test_ingest_puts_the_vectors_on_the_server_only(samples_on_server: Settings) -> None:
    settings = samples_on_server
    reader = IndexReader(settings)
    try:
        assert _count(settings) == len(reader.chunk_ids) > 0
    finally:
        reader.close()
    assert_store_consistent(settings)  # ids, metadata and vectors on the server match SQLite
    assert not (settings.index_dir / "chroma").exists()
    assert vectorstore.collection_name(settings).startswith("manba_")


def test_ask_queries_the_server(samples_on_server: Settings) -> None:
    with Engine(samples_on_server) as engine:
        answer = engine.ask("ماذا ناقش بوتين وأردوغان بشأن إدلب؟")
        assert not answer.abstained and answer.citations, answer.answer
        collection = engine.searcher._collection  # opened by the dense leg
        assert collection is not None
        assert collection.name == vectorstore.collection_name(samples_on_server)
        assert type(collection._client).__name__ == "FastAPI"  # chromadb's HTTP client
        # The server's HNSW finds what exact search over the same vectors finds.
        exact = Searcher(engine.reader, replace(samples_on_server, retrieval=Settings().retrieval))
        for text in ("Putin Erdogan Idlib", "توافق سوچی چه بود؟", "اتفاق سوتشي"):
            query = exact.query(text)
            want, got = exact.dense(query, None, 3), engine.searcher.dense(query, None, 3)
            assert got and got[0][0] == want[0][0], text
            assert got[0][1] == pytest.approx(want[0][1], abs=1e-4)
    assert not (samples_on_server.index_dir / "chroma").exists()


def test_eval_runs_against_the_server_and_drops_its_collection(
    chroma_url: str, tmp_path: Path
) -> None:
    settings = _on_server(chroma_url, tmp_path / "unused", dense_backend="chroma")
    before = {c.name for c in vectorstore.client(settings).list_collections()}
    seen: dict[str, Any] = {}

    def on_engine(engine: Engine) -> None:
        seen["name"] = vectorstore.collection_name(engine.settings)
        seen["count"] = _count(engine.settings)
        seen["chunks"] = len(engine.reader.chunk_ids)
        seen["local"] = (engine.settings.index_dir / "chroma").exists()

    report = run_eval([CORPUS], QA, settings, [1, 5], ["dense", "hybrid"], on_engine=on_engine)
    assert seen["count"] == seen["chunks"] == report["index"]["chunks"] > 0
    assert not seen["local"]
    assert report["modes"]["hybrid"]["recall@5"] >= 5 / 6, report["modes"]
    assert report["modes"]["dense"]["recall@5"] > 0, report["modes"]
    after = {c.name for c in vectorstore.client(settings).list_collections()}
    assert seen["name"] not in after and after == before  # the run's collection is gone


def test_two_indexes_share_the_server_in_two_collections(
    chroma_url: str, samples_on_server: Settings, tmp_path: Path, mini_copy: Path
) -> None:
    other = _on_server(chroma_url, tmp_path / "index")
    report = index_paths([mini_copy], other)
    assert report.ok and report.total_documents == 4, report
    names = {vectorstore.collection_name(s) for s in (samples_on_server, other)}
    assert len(names) == 2
    assert _count(other) == report.total_chunks
    reader = IndexReader(samples_on_server)
    try:
        assert _count(samples_on_server) == len(reader.chunk_ids)  # untouched by the other
    finally:
        reader.close()

    # A removed document leaves the server's collection too.
    gone = "fa_zelzele.txt"
    collection = vectorstore.collection(other)
    assert collection.get(where={"doc_id": gone}, include=[])["ids"]
    removed, _ = remove_documents([gone], other)
    assert removed == [gone]
    assert not collection.get(where={"doc_id": gone}, include=[])["ids"]
    assert_store_consistent(other)

    # A deleted source file, pruned by the next ingest, too.
    (mini_copy / "ar_maarad.txt").unlink()
    again = index_paths([mini_copy], other, prune=True)
    assert again.removed == ["ar_maarad.txt"]
    assert not collection.get(where={"doc_id": "ar_maarad.txt"}, include=[])["ids"]
    assert _count(other) == again.total_chunks
    assert not (other.index_dir / "chroma").exists()


def test_doctor_reports_the_server(
    chroma_url: str, samples_on_server: Settings, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANBA_STORE__CHROMA_URL", chroma_url)
    index = str(samples_on_server.index_dir)
    result = runner.invoke(main, ["doctor", "--json", "--index", index])
    assert result.exit_code == 0, result.output
    checks = {c["check"]: c for c in json.loads(result.output)}
    assert checks["chroma server"]["status"] == "ok"
    assert chroma_url in checks["chroma server"]["detail"]
    assert "Chroma 1." in checks["chroma server"]["detail"]  # the server's version
    assert checks["chroma collection"]["status"] == "ok", checks["chroma collection"]
    assert checks["mode"]["status"] == "ok"  # the model checks still follow


def test_unreachable_server_says_how_to_start_one(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _free_port()  # nothing listens there
    settings = _on_server(f"http://127.0.0.1:{port}", tmp_path / "index")
    with pytest.raises(
        VectorStoreError, match=f"chroma run --path DIR --host 127.0.0.1 --port {port}"
    ):
        index_paths([MINI], settings)

    monkeypatch.setenv("MANBA_STORE__CHROMA_URL", f"http://127.0.0.1:{port}")
    result = runner.invoke(main, ["ingest", str(MINI), "--index", str(tmp_path / "cli")])
    assert result.exit_code != 0
    assert "cannot be reached" in result.stderr and "chroma run" in result.stderr
    doctor = runner.invoke(main, ["doctor", "--index", str(tmp_path / "cli")])
    assert doctor.exit_code == 1 and "chroma server" in doctor.output


def test_collection_names() -> None:
    here = Settings().with_index("some/index")
    assert vectorstore.collection_name(here) == vectorstore.COLLECTION  # embedded: as before
    served = replace(here, store=StoreSettings(chroma_url="http://127.0.0.1:8000"))
    name = vectorstore.collection_name(served)
    assert name == vectorstore.collection_name(served.with_index(Path("some/index").resolve()))
    assert name != vectorstore.collection_name(served.with_index("other/index"))
    named = replace(served, store=replace(served.store, chroma_collection="news.fa-2024"))
    assert vectorstore.collection_name(named) == "news.fa-2024"
