"""``manba doctor``: is the connected mode's endpoint usable, and if not, what to fix.

Checks, in order, each with a verdict and the next step: the endpoint answers, the key is
accepted, the chat model is listed and answers, the embedding model (when the index option is
set) answers and what its dimension is, and whether the index was built with that model.
Offline (no endpoint configured) it says so and what to set. An existing index's embedded
Chroma store is opened and queried in a child process (``rag.health``) and, when broken, moved
aside and rebuilt from SQLite. With a Chroma server configured
(``store.chroma_url``), it first checks that the server answers (heartbeat, version) and how many
of the index's vectors its collection holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rag.config import Settings

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str


def _error_detail(exc: Exception) -> tuple[str, str]:
    """(status, what to do) for an openai exception."""
    import openai

    if isinstance(exc, openai.AuthenticationError):
        return FAIL, "the key was refused: check OPENAI_API_KEY (or MANBA_LLM__API_KEY)"
    if isinstance(exc, openai.NotFoundError):
        return FAIL, "not found at this endpoint: check the model name and the base URL's /v1"
    if isinstance(exc, openai.APIConnectionError | openai.APITimeoutError):
        return FAIL, (
            "the endpoint does not answer: is the server running, and is OPENAI_BASE_URL "
            "(or MANBA_LLM__BASE_URL) right?"
        )
    return FAIL, f"{type(exc).__name__}: {exc}"


def run(settings: Settings) -> list[Check]:
    return _embedded_checks(settings) + _store_checks(settings) + _model_checks(settings)


def _embedded_checks(settings: Settings) -> list[Check]:
    """The embedded Chroma store of an existing index: opened and queried in a child process
    (a crash in Chroma cannot take doctor with it); when broken, moved aside and rebuilt from
    SQLite under the writer's lock (rag.health)."""
    from rag import health, store
    from rag.errors import IndexBusyError

    if settings.store.chroma_url or not (settings.index_dir / store.DB_NAME).exists():
        return []
    try:
        writer = store.IndexWriter(settings)  # checks the store when its files changed
    except IndexBusyError as exc:
        return [Check("chroma store", WARN, f"not checked: {exc}")]
    with writer:
        repair = writer.chroma_repair
        if repair.health is None and not repair.moved_to:
            repair = health.ensure(settings, writer.conn, force=True)
        if repair.moved_to is None:
            detail = repair.health.detail if repair.health else "no store yet"
            return [Check("chroma store", OK, detail)]
        # Chroma alone is refilled from SQLite; the manifest and segments are left as they are
        # (a half-written ingest is completed by the next `manba ingest`, not published here).
        writer._sync_chroma()
        count = int(writer.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
    assert repair.health is not None
    return [
        Check(
            "chroma store",
            WARN,
            f"{health.chroma_dir(settings)} was damaged ({repair.health.detail}); moved to "
            f"{repair.moved_to} and rebuilt from SQLite ({count} vector(s)). The moved folder "
            "can be deleted.",
        )
    ]


def _store_checks(settings: Settings) -> list[Check]:
    """The Chroma server, when one is configured: it answers, its version, and whether the
    index's collection holds as many vectors as the index has chunks."""
    if not settings.store.chroma_url:
        return []
    from rag import vectorstore
    from rag.errors import VectorStoreError

    url = settings.store.chroma_url
    try:
        status = vectorstore.server_status(settings)
    except VectorStoreError as exc:
        return [Check("chroma server", FAIL, str(exc))]
    checks = [
        Check(
            "chroma server",
            OK,
            f"{url} answers (heartbeat {status['heartbeat']}), Chroma {status['version']}",
        )
    ]
    name, count = status["collection"], status["count"]
    manifest = settings.index_dir / "manifest.json"
    chunks = None
    if manifest.exists():
        chunks = json.loads(manifest.read_text("utf-8")).get("counts", {}).get("chunks")
    if chunks is None:
        detail = f"{name}: {'missing' if count is None else f'{count} vector(s)'}; no index yet"
        checks.append(Check("chroma collection", OK, detail))
    elif count == chunks:
        checks.append(Check("chroma collection", OK, f"{name}: {count} vector(s), as indexed"))
    else:
        checks.append(
            Check(
                "chroma collection",
                WARN,
                f"{name} holds {count or 0} vector(s), the index at {settings.index_dir} has "
                f"{chunks} chunk(s): dense_backend=chroma misses passages; fill it with "
                f"`manba ingest --rebuild --index {settings.index_dir}`",
            )
        )
    return checks


def _model_checks(settings: Settings) -> list[Check]:
    llm = settings.llm
    if not llm.connected:
        return [
            Check(
                "mode",
                OK,
                "offline: no endpoint configured (set OPENAI_API_KEY and/or OPENAI_BASE_URL "
                "to connect a model)",
            )
        ]
    import openai

    where = llm.base_url or "https://api.openai.com/v1"
    client = openai.OpenAI(
        base_url=llm.base_url or None,
        api_key=llm.api_key or "not-needed",
        timeout=llm.timeout,
        max_retries=0,
    )
    checks: list[Check] = []
    try:
        listed = [m.id for m in client.models.list()]
        checks.append(Check("endpoint", OK, f"{where} answers; {len(listed)} model(s) listed"))
    except Exception as exc:
        status, detail = _error_detail(exc)
        checks.append(Check("endpoint", status, f"{where}: {detail}"))
        return checks
    wanted: list[str] = [llm.model]
    embed = settings.embed
    if embed.backend == "openai":
        wanted.append(embed.model)
    for model in wanted:
        if listed and model not in listed:
            checks.append(
                Check(
                    f"model {model}",
                    WARN,
                    f"not in the endpoint's list ({', '.join(listed[:8])}"
                    f"{'…' if len(listed) > 8 else ''}); requests may fail",
                )
            )
    try:
        reply = client.chat.completions.create(
            model=llm.model,
            messages=[{"role": "user", "content": "Reply with the word OK."}],
            max_tokens=5,
            temperature=0,
        )
        text = (reply.choices[0].message.content or "").strip() if reply.choices else ""
        checks.append(Check(f"chat {llm.model}", OK, f"answers ({text[:20]!r})"))
    except Exception as exc:
        status, detail = _error_detail(exc)
        checks.append(Check(f"chat {llm.model}", status, detail))
    if embed.backend == "openai":
        checks.append(_embedding_check(client, settings))
    return checks


def _embedding_check(client: Any, settings: Settings) -> Check:
    embed = settings.embed
    try:
        data = client.embeddings.create(model=embed.model, input=["منبع", "source"]).data
        dim = len(data[0].embedding)
    except Exception as exc:
        status, detail = _error_detail(exc)
        return Check(f"embeddings {embed.model}", status, detail)
    manifest = settings.index_dir / "manifest.json"
    stored: dict[str, Any] = {}
    if manifest.exists():
        stored = json.loads(manifest.read_text("utf-8")).get("settings", {}).get("embed", {})
    if stored and (stored.get("backend"), stored.get("model")) != ("openai", embed.model):
        return Check(
            f"embeddings {embed.model}",
            WARN,
            f"dimension {dim}; the index at {settings.index_dir} was built with "
            f"{stored.get('model') or stored.get('backend')}: the next `manba ingest` "
            "re-embeds every document",
        )
    if stored and stored.get("dim") not in (None, dim):
        return Check(
            f"embeddings {embed.model}",
            FAIL,
            f"dimension {dim}, but the index holds {stored.get('dim')}: re-index "
            "(manba ingest PATH)",
        )
    return Check(f"embeddings {embed.model}", OK, f"dimension {dim}")
