"""Shared fixtures: small on-disk indexes built once per session, never any network.

Paths are computed from this file, so the suite runs from any working directory. Nothing here
reads ../shared: the inputs are the repo's bundled samples (data/samples) and tests/data.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.config import Settings
from rag.engine import Engine
from rag.indexing import index_paths

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
DATA = TESTS / "data"
SAMPLES = ROOT / "data" / "samples"
MINI = DATA / "mini"
BAD = DATA / "bad"
CORPUS = DATA / "corpus.jsonl"
QA = DATA / "qa.jsonl"
VENV_BIN = ROOT / ".venv" / "bin"

# The bundled samples, by the prefix of their file names.
SAMPLE_FA = "000_"
SAMPLE_EN = "001_"
SAMPLE_EN2 = "002_"
SAMPLE_AR = "003_"


def sample_id(prefix: str) -> str:
    """The doc_id (file name) of the bundled sample whose name starts with ``prefix``."""
    (path,) = SAMPLES.glob(prefix + "*")
    return path.name


def read_text(path: Path) -> str:
    """A fixture file's text as Manba should store it: UTF-8, BOM stripped, unchanged."""
    return path.read_bytes().decode("utf-8-sig")


@pytest.fixture(scope="session", autouse=True)
def _isolated_env() -> Iterator[None]:
    """No MANBA_* (or OPENAI_*) setting from the developer's shell leaks into the tests, and
    no connection leaves the machine (loopback and Unix sockets stay allowed)."""
    mp = pytest.MonkeyPatch()
    for key in list(os.environ):
        if key.startswith("MANBA_") or key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            mp.delenv(key)
    # The analyzed lexicon's cache goes to a folder of this run, not the user's ~/.cache.
    mp.setenv("XDG_CACHE_HOME", tempfile.mkdtemp(prefix="manba-test-cache-"))
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> object:
        if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            host = str(address[0])
            if host not in ("127.0.0.1", "::1", "localhost"):
                raise OSError(f"tests must not use the network (tried {host})")
        return real_connect(self, address)  # type: ignore[arg-type]

    mp.setattr(socket.socket, "connect", guarded_connect)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of an index of the bundled samples (data/samples), built once per session.

    Read-only for tests: copy it (``copy_index``) before changing anything.
    """
    settings = Settings().with_index(tmp_path_factory.mktemp("samples") / "index")
    report = index_paths([SAMPLES], settings)
    assert report.ok and report.total_documents == 4, report
    return settings


@pytest.fixture(scope="session")
def engine(built_index: Settings) -> Iterator[Engine]:
    eng = Engine(built_index)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def jsonl_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of an index of tests/data/corpus.jsonl (rows with dates and sources)."""
    settings = Settings().with_index(tmp_path_factory.mktemp("jsonl") / "index")
    report = index_paths([CORPUS], settings)
    assert report.ok and report.total_documents == 9, report
    return settings


@pytest.fixture(scope="session")
def jsonl_engine(jsonl_index: Settings) -> Iterator[Engine]:
    eng = Engine(jsonl_index)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def mini_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of an index of tests/data/mini, built once; copy it before changing it."""
    settings = Settings().with_index(tmp_path_factory.mktemp("mini") / "index")
    report = index_paths([MINI], settings)
    assert report.ok and report.total_documents == 4, report
    return settings


@pytest.fixture
def copy_index(tmp_path: Path) -> Callable[..., Settings]:
    """Copy an index folder into this test's tmp_path; returns Settings for the copy.

    A copy lives at a new path, so no Chroma client of this process has it open yet.
    """

    def _copy(settings: Settings, name: str = "index") -> Settings:
        dest = tmp_path / name
        shutil.copytree(settings.index_dir, dest, ignore=shutil.ignore_patterns(".lock"))
        return settings.with_index(dest)

    return _copy


@pytest.fixture
def mini_copy(tmp_path: Path) -> Path:
    """A writable copy of tests/data/mini."""
    dest = tmp_path / "mini"
    shutil.copytree(MINI, dest)
    return dest


@pytest.fixture
def runner() -> CliRunner:
    # click 8.2+ keeps stderr apart (result.stderr) without any option; mix_stderr is gone.
    return CliRunner()
