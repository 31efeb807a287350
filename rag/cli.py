"""The `manba` command line; with app.py, the only place that turns errors into messages."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from rag.config import Settings, from_env
from rag.errors import ManbaError
from rag.langs import SUPPORTED
from rag.retrieval import MODES, Filters

if TYPE_CHECKING:
    from rag.engine import Engine

_INDEX_HELP = "Index folder (default: $MANBA_INDEX_DIR or ./index)."
# C0 and C1 control characters but \n and \t: document text must not drive the terminal
# (an ESC sequence in a title could retitle the window, rewrite lines or hide output).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
NO_FILTER_MATCH = "No passage matches these filters."


def clean(text: str) -> str:
    """Text for human (non-JSON) output: control characters removed, but newline and tab."""
    return _CONTROL.sub("", text)


def _settings(index: str | None) -> Settings:
    try:
        settings = from_env()
    except ManbaError as err:
        _fail(str(err))
    return settings.with_index(index) if index else settings


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {clean(message)}", err=True)
    sys.exit(code)


def _why(matched: Iterable[tuple[str, str, str]]) -> str:
    """'Putin (name), agreement (glossary: agreement)': which question words matched and how."""
    parts = []
    for word, how, term in matched:
        detail = f"{how}: {term}" if how == "glossary" and term else how
        parts.append(f"{word} ({detail})")
    return ", ".join(parts)


def _warn(warnings: Iterable[str]) -> None:
    for warning in warnings:
        click.echo(f"warning: {clean(warning)}", err=True)


def _langs(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    chosen = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [v for v in chosen if v not in SUPPORTED]
    if bad:
        _fail(f"--lang takes {', '.join(SUPPORTED)} (comma-separated), not {', '.join(bad)}")
    return chosen


def _date(option: str, value: str | None) -> str:
    """An ISO date (YYYY-MM-DD, Gregorian) given to ``option``, checked; '' when not given."""
    if not value:
        return ""
    try:
        if not _ISO_DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        _fail(f"{option} takes a date as YYYY-MM-DD (e.g. 2024-03-07), not {value!r}")


def _filters(
    lang: str | None, source: tuple[str, ...], date_from: str | None, date_to: str | None
) -> Filters:
    start, end = _date("--date-from", date_from), _date("--date-to", date_to)
    if start and end and start > end:
        _fail(f"--date-from ({start}) is after --date-to ({end}); no document can match")
    return Filters(_langs(lang), tuple(source), start, end)


def _engine(index: str | None) -> Engine:
    """Open the index for querying; note on stderr when it was built with other settings."""
    from rag.engine import Engine

    settings = _settings(index)
    try:
        engine = Engine(settings)
    except ManbaError as err:
        _fail(str(err))
    if engine.reader.stale_settings:
        click.echo(
            f"note: the index at {settings.index_dir} was built with other chunking, embedding "
            f"or BM25 settings; `manba ingest --rebuild --index {settings.index_dir}` rebuilds "
            "it with the current ones",
            err=True,
        )
    return engine


def _print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """Manba: cited answers over Persian, Arabic and English documents, offline."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # bm25s sets its own logger to DEBUG; keep it as quiet as the rest unless asked.
    logging.getLogger("bm25s").setLevel(logging.INFO if verbose else logging.WARNING)
    # pypdf logs every repair it makes to a damaged PDF; the ingest summary says what matters.
    logging.getLogger("pypdf").setLevel(logging.WARNING if verbose else logging.ERROR)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--index", "index", type=click.Path(), help=_INDEX_HELP)
@click.option(
    "--rebuild", is_flag=True, help="Re-chunk and re-embed every stored document (PATHS optional)."
)
@click.option(
    "--prune", is_flag=True, help="Remove indexed documents under PATHS whose files are gone."
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    help="Also write the report (counts, failures, seconds per stage) as JSON to this file.",
)
def ingest(
    paths: tuple[str, ...], index: str | None, rebuild: bool, prune: bool, json_out: str | None
) -> None:
    """Add or update files (or folders of them) in the index.

    Reads .txt, .md, .html/.htm, .pdf, .docx and .jsonl. Unchanged files are skipped; files
    that cannot be read are reported and the rest is indexed (exit code 1 when any failed).
    """
    from rag.indexing import index_paths

    if not paths and not rebuild:
        _fail("give one or more files or folders to ingest (or --rebuild to re-index the index)")
    settings = _settings(index)
    bar = _ProgressBar() if sys.stderr.isatty() else None
    try:
        report = index_paths(list(paths), settings, rebuild=rebuild, prune=prune, progress=bar)
    except ManbaError as err:
        if bar:
            bar.close()
        _fail(str(err))
    if bar:
        bar.close()
    for problem in report.failed:
        click.echo(f"error: {clean(str(problem))}", err=True)
    counts = [
        f"{len(report.added)} new",
        f"{len(report.updated)} changed",
        f"{len(report.unchanged)} unchanged",
    ]
    if report.failed:
        counts.append(f"{len(report.failed)} failed")
    if report.reindexed:
        why = "" if rebuild else " for new settings"
        counts.append(f"{len(report.reindexed)} re-indexed{why}")
    if report.removed:
        counts.append(f"{len(report.removed)} removed (files gone)")
    if report.skipped:
        kinds = Counter(s.suffix for s in report.skipped)
        counts.append(
            f"{len(report.skipped)} file(s) of types Manba does not read skipped ("
            + ", ".join(f"{suffix} {n}" for suffix, n in kinds.most_common())
            + ")"
        )
    languages = ", ".join(f"{lang} {n}" for lang, n in report.languages.items()) or "none"
    click.echo(f"Ingested in {report.seconds:.1f} s: {', '.join(counts)}.")
    click.echo(f"  written: {report.chunks} chunk(s); languages of written documents: {languages}")
    click.echo(
        f"  {settings.index_dir} now holds {report.total_documents} document(s), "
        f"{report.total_chunks} chunk(s)."
    )
    if report.stages:
        click.echo(
            "  seconds per stage: "
            + ", ".join(f"{name} {secs:.2f}" for name, secs in report.stages.items())
        )
    if json_out:
        _write_ingest_json(Path(json_out), report)
    if report.failed:
        click.echo(
            f"{len(report.failed)} input(s) failed (see above); the rest was indexed.", err=True
        )
        sys.exit(1)


def _write_ingest_json(path: Path, report: Any) -> None:
    data = {
        "added": report.added,
        "updated": report.updated,
        "unchanged": len(report.unchanged),
        "reindexed": len(report.reindexed),
        "removed": report.removed,
        "failed": [{"path": e.path, "line": e.line, "reason": e.reason} for e in report.failed],
        "chunks_written": report.chunks,
        "languages": report.languages,
        "total_chunks": report.total_chunks,
        "total_documents": report.total_documents,
        "seconds": report.seconds,
        "stages": report.stages,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


_STAGES = {
    "read": "Reading files",
    "embed": "Embedding (model)",
    "index": "Indexing",
    "finish": "Writing indexes",
}


class _ProgressBar:
    """One self-rewriting line on stderr per ingest stage (only when stderr is a terminal)."""

    def __init__(self) -> None:
        self.stage = ""
        self.last = 0.0

    def __call__(self, p: Any) -> None:
        import time

        now = time.monotonic()
        final = p.done >= p.total
        if p.stage == self.stage and not final and now - self.last < 0.1:
            return
        if p.stage != self.stage and self.stage:
            click.echo("", err=True)
        self.stage, self.last = p.stage, now
        width = 24
        filled = int(width * p.done / max(p.total, 1))
        name = clean(p.name)[-40:]
        line = (
            f"\r{_STAGES.get(p.stage, p.stage):<16} [{'#' * filled}{'.' * (width - filled)}] "
            f"{p.done}/{p.total} {name}"
        )
        click.echo(f"{line:<100}", err=True, nl=False)

    def close(self) -> None:
        if self.stage:
            click.echo("", err=True)
            self.stage = ""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--index", "index", type=click.Path(), help=_INDEX_HELP)
def docs(as_json: bool, index: str | None) -> None:
    """List the indexed documents: doc_id, title, language, date, source, chunks, path."""
    from rag.store import IndexReader

    try:
        reader = IndexReader(_settings(index))
    except ManbaError as err:
        _fail(str(err))
    try:
        counts = Counter(reader.doc_ids)
        rows = [
            {
                "doc_id": d.doc_id,
                "title": d.title,
                "lang": d.lang,
                "date": d.date,
                "source": d.source,
                "chunks": counts[d.doc_id],
                "path": d.path,
            }
            for d in reader.documents()
        ]
    finally:
        reader.close()
    if as_json:
        _print_json({"documents": rows})
        return
    for r in rows:
        click.echo(
            clean(
                f"{r['doc_id']}  [{r['lang']}]  {r['date'] or '-'}  {r['source'] or '-'}  "
                f"{r['chunks']} chunk(s)  {r['title']}"
            )
        )
    click.echo(f"{len(rows)} document(s).")


@main.command()
@click.argument("doc_ids", nargs=-1, required=True)
@click.option("--index", "index", type=click.Path(), help=_INDEX_HELP)
def remove(doc_ids: tuple[str, ...], index: str | None) -> None:
    """Remove documents (by doc_id, as `manba search` shows them) from the index."""
    from rag.indexing import remove_documents

    settings = _settings(index)
    try:
        removed, missing = remove_documents(list(doc_ids), settings)
    except ManbaError as err:
        _fail(str(err))
    for doc_id in missing:
        click.echo(f"error: {clean(doc_id)}: no such document in {settings.index_dir}", err=True)
    click.echo(f"Removed {len(removed)} document(s) from {settings.index_dir}.")
    if missing:
        sys.exit(1)


def _filter_options(f: Any) -> Any:
    f = click.option("--lang", help="Only passages in these languages, e.g. fa,ar.")(f)
    f = click.option("--source", multiple=True, help="Only this outlet/source (repeatable).")(f)
    f = click.option("--date-from", help="Only documents dated on or after (YYYY-MM-DD).")(f)
    f = click.option("--date-to", help="Only documents dated on or before (YYYY-MM-DD).")(f)
    return f


@main.command()
@click.argument("query")
@click.option("--k", "k", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--mode", type=click.Choice(MODES), help="Retrieval legs (default: hybrid).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--index", "index", type=click.Path(), help=_INDEX_HELP)
@_filter_options
def search(
    query: str,
    k: int,
    mode: str | None,
    as_json: bool,
    index: str | None,
    lang: str | None,
    source: tuple[str, ...],
    date_from: str | None,
    date_to: str | None,
) -> None:
    """Print the passages that best match QUERY, best first."""
    from rag.engine import check_question, hit_to_dict

    filters = _filters(lang, source, date_from, date_to)
    engine = _engine(index)
    try:
        query = check_question(query)
        translated = engine.translate(query)
        q, hits = engine.searcher.search(query, k, filters, mode, translations=translated.texts)
    except ManbaError as err:
        _fail(str(err))
    _warn(translated.warnings)
    if as_json:
        _print_json(
            {
                "query": query,
                "query_lang": q.lang,
                "translations": translated.texts,
                "warnings": list(translated.warnings),
                "passages": [hit_to_dict(h, r) for r, h in enumerate(hits, 1)],
            }
        )
        return
    if not hits:
        click.echo("No passage matches." if filters.empty() else NO_FILTER_MATCH)
    for r, h in enumerate(hits, 1):
        snippet = clean(" ".join(h.chunk.text.split()))
        click.echo(
            f"{r:>2}. [{h.chunk.lang}] {clean(h.doc.doc_id)}  {h.chunk.start}-{h.chunk.end}  "
            f"score {h.score:.4f}"
        )
        click.echo(f"    {clean(h.doc.title)}")
        click.echo(f"    {snippet[:300]}{'…' if len(snippet) > 300 else ''}")
        if h.matched:
            click.echo(f"    matched: {clean(_why(h.matched))}")


@main.command()
@click.argument("question")
@click.option(
    "--k",
    "k",
    type=click.IntRange(1, 100),
    default=5,
    show_default=True,
    help="Passages to draw the answer from.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--index", "index", type=click.Path(), help=_INDEX_HELP)
@click.option(
    "--answer-lang",
    type=click.Choice(["fa", "ar", "en"]),
    help="Connected mode: the language of the written answer (default: the question's).",
)
@_filter_options
def ask(
    question: str,
    k: int,
    as_json: bool,
    index: str | None,
    answer_lang: str | None,
    lang: str | None,
    source: tuple[str, ...],
    date_from: str | None,
    date_to: str | None,
) -> None:
    """Answer QUESTION from the documents; every sentence is cited."""
    from rag.engine import answer_to_dict

    filters = _filters(lang, source, date_from, date_to)
    engine = _engine(index)
    streamed: list[str] = []

    def on_text(piece: str) -> None:
        if not streamed:
            click.echo(f"({engine.model.label if engine.model else 'model'} is writing...)")
        streamed.append(piece)
        click.echo(clean(piece), nl=False)

    stream = engine.writes_answers and not as_json
    try:
        answer = engine.ask(
            question, k, filters, on_text=on_text if stream else None, answer_lang=answer_lang
        )
    except ManbaError as err:
        _fail(str(err))
    if streamed:
        click.echo("\n")
    _warn(answer.warnings)
    if as_json:
        _print_json(answer_to_dict(answer))
        return
    if answer.abstained and not answer.hits:
        # The abstention text promises closest passages; there are none to list.
        click.echo(
            f"No answer: {NO_FILTER_MATCH}"
            if not filters.empty()
            else "No answer: no passage in the index is close to this question."
        )
        return
    if not streamed or answer.abstained or "".join(streamed).strip() != answer.answer:
        if streamed:
            click.echo("Checked answer (citations resolved and renumbered):")
        click.echo(clean(answer.answer))
        click.echo("")
    lines = answer.answer.split("\n")
    for n in answer.unsupported:
        if n < len(lines):
            click.echo(f"warning: cites no source: {clean(lines[n])}", err=True)
    if answer.invented_citations:
        click.echo(
            f"warning: {answer.invented_citations} citation number(s) the model invented "
            "were removed",
            err=True,
        )
    if answer.citations:
        click.echo("Sources:")
        for c in answer.citations:
            click.echo(
                f"  [{c.n}] {clean(c.doc_id)} ({c.lang}) chars {c.start}-{c.end}: {clean(c.title)}"
            )
    else:
        click.echo("Closest passages:")
        for r, h in enumerate(answer.hits, 1):
            snippet = clean(" ".join(h.chunk.text.split()))[:200]
            click.echo(f"  {r}. {clean(h.doc.doc_id)} ({h.chunk.lang}): {snippet}")


@main.command(name="eval")
@click.option(
    "--testset",
    type=click.Path(exists=True, dir_okay=False),
    help="Test set in Manba's JSONL format (see the README), e.g. data/testsets/samples.jsonl.",
)
@click.option(
    "--squad",
    type=click.Path(exists=True, dir_okay=False),
    help="Test set in SQuAD JSON format (its paragraphs are the corpus).",
)
@click.option(
    "--corpus",
    "corpus",
    multiple=True,
    type=click.Path(exists=True),
    help="Files or folders to index for this run (repeatable); needed with --qa. Without "
    "it, --testset is run against the index (--index).",
)
@click.option("--qa", "qa", type=click.Path(exists=True), help="Questions JSONL (with --corpus).")
@click.option("--index", "index", type=click.Path(), help=_INDEX_HELP)
@click.option("--k", "ks", default="1,5,20", show_default=True, help="Cut-offs for Recall@k.")
@click.option(
    "--mode",
    type=click.Choice([*MODES, "all"]),
    default="hybrid",
    show_default=True,
    help="With --qa: retrieval legs to score; 'all' scores each leg and the fusion, with and "
    "without the sentence re-ranking.",
)
@click.option(
    "--baseline",
    is_flag=True,
    help="With --qa: also score plain bm25s with its default tokenizer, in the same run.",
)
@click.option(
    "--ablation",
    is_flag=True,
    help="With --qa: also score the fused default without cross-lingual evidence and with "
    "each kind (names, concepts, numbers) alone and left out.",
)
@click.option(
    "--retrieval-only",
    is_flag=True,
    help="With --qa: score retrieval only (no answers, citations or faithfulness).",
)
@click.option("--limit", type=int, default=0, help="Score only the first N questions.")
@click.option("--judge", is_flag=True, help="Faithfulness judged by the connected model.")
@click.option("--json", "json_out", type=click.Path(), help="Write every figure to this file.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False),
    help="Write a self-contained HTML report (charts, failures) into this folder.",
)
@click.option(
    "--compare",
    "compare_to",
    type=click.Path(exists=True, dir_okay=False),
    help="An earlier --json file: show what improved and what regressed; exit 1 on a "
    "regression beyond --tolerance.",
)
@click.option(
    "--tolerance",
    type=float,
    default=0.02,
    show_default=True,
    help="How much a figure may drop before --compare calls it a regression.",
)
def eval_cmd(
    testset: str | None,
    squad: str | None,
    corpus: tuple[str, ...],
    qa: str | None,
    index: str | None,
    ks: str,
    mode: str,
    baseline: bool,
    ablation: bool,
    retrieval_only: bool,
    limit: int,
    judge: bool,
    json_out: str | None,
    report_dir: str | None,
    compare_to: str | None,
    tolerance: float,
) -> None:
    """Measure answer quality: retrieval, citations, answers, abstention, faithfulness and
    latency, by language, direction and tag (--testset, --squad, or --corpus with --qa)."""
    from rag import eval_report

    chosen = [x for x in (testset, squad, qa) if x]
    if len(chosen) != 1:
        _fail("give one of --testset FILE, --squad FILE, or --corpus PATH --qa FILE")
    if qa and not corpus:
        _fail("--qa needs the corpus it was written for: add --corpus FILE")
    old = None
    if compare_to:
        try:
            old = json.loads(Path(compare_to).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            _fail(f"{compare_to} is not a report written by --json ({exc})")
    settings = _settings(index)
    try:
        if qa:
            report = _eval_qa_pair(
                settings,
                corpus,
                Path(qa),
                ks,
                mode,
                baseline,
                ablation,
                retrieval_only,
                limit,
                judge,
            )
        else:
            report = _eval_testset(settings, testset, squad, corpus, limit, judge)
    except ManbaError as err:
        _fail(str(err))
    if "metrics" in report:
        click.echo(clean(eval_report.format_table(report)))
    if "modes" in report:
        from rag.evaluation import format_report

        click.echo(clean(format_report(report)))
    if json_out:
        Path(json_out).write_text(json.dumps(report, ensure_ascii=False, indent=2), "utf-8")
        click.echo(f"Figures written to {json_out}")
    if report_dir and "metrics" in report:
        page = eval_report.write_html(report, Path(report_dir))
        click.echo(f"Report written to {page}")
    if old is not None and "metrics" in report:
        comparison = eval_report.compare(old, report, tolerance)
        click.echo(clean(eval_report.format_comparison(comparison)))
        if comparison.regressed_beyond_tolerance:
            _fail(f"regression beyond the tolerance {tolerance} against {compare_to}", code=1)


def _progress(label: str) -> Any:
    """A progress bar on stderr, fed by answer_eval.run's callback."""
    state: dict[str, Any] = {}

    def update(i: int, n: int, case_id: str) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = click.progressbar(length=n, label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(1)
        if i == n:
            bar.__exit__(None, None, None)

    return update


def _judge(settings: Settings, wanted: bool) -> Any:
    if not wanted:
        return None
    if not settings.llm.connected:
        _fail(
            "--judge needs a model: set OPENAI_API_KEY and/or OPENAI_BASE_URL "
            "(or MANBA_LLM__BASE_URL); without it faithfulness is measured lexically"
        )
    from rag.judge import ModelJudge
    from rag.llm import ChatModel

    return ModelJudge(ChatModel(settings.llm))


def _eval_testset(
    settings: Settings,
    testset: str | None,
    squad: str | None,
    corpus: tuple[str, ...],
    limit: int,
    judge: bool,
) -> dict[str, Any]:
    import tempfile
    from contextlib import ExitStack
    from dataclasses import replace as dc_replace

    from rag import answer_eval, vectorstore
    from rag.engine import Engine
    from rag.indexing import index_paths
    from rag.testset import from_squad, load_testset

    the_judge = _judge(settings, judge)
    with tempfile.TemporaryDirectory(prefix="manba-eval-") as tmp, ExitStack() as scratch:
        if squad:
            ts = from_squad(Path(squad), Path(tmp) / "squad", limit)
            paths: list[str | Path] = list(ts.corpus)
        else:
            ts = load_testset(Path(str(testset)))
            if limit:
                ts = dc_replace(ts, cases=ts.cases[:limit])
            paths = [Path(c) for c in corpus]
        run_settings = settings
        if paths:
            # On a Chroma server: a collection of the run's own, dropped at the end.
            run_settings = scratch.enter_context(vectorstore.scratch(settings, Path(tmp) / "index"))
            click.echo(f"Indexing {', '.join(str(p) for p in paths)} for this run...", err=True)
            built = index_paths(paths, run_settings)
            for failure in built.failed:
                click.echo(f"warning: {clean(str(failure))}", err=True)
        elif not (settings.index_dir / "manifest.json").exists():
            _fail(
                f"no index at {settings.index_dir}: build it (manba ingest data/samples) or "
                "pass the documents with --corpus"
            )
        with Engine(run_settings) as engine:
            report = answer_eval.run(engine, ts, judge=the_judge, progress=_progress("Evaluating"))
        if the_judge is not None:
            report["judge_tokens"] = sum(the_judge.model.usage.values())
    report["settings"] = {"k": settings.retrieval.k, "index": str(run_settings.index_dir)}
    report["date"] = date.today().isoformat()
    return report


def _eval_qa_pair(
    settings: Settings,
    corpus: tuple[str, ...],
    qa: Path,
    ks: str,
    mode: str,
    baseline: bool,
    ablation: bool,
    retrieval_only: bool,
    limit: int,
    judge: bool,
) -> dict[str, Any]:
    from rag import answer_eval
    from rag.evaluation import ablation_modes, run_eval, xling_ablation_modes
    from rag.testset import from_qa_pair

    try:
        cutoffs = sorted({int(x) for x in ks.split(",") if x.strip()})
    except ValueError:
        _fail(f"--k takes comma-separated whole numbers such as 1,5,20, not {ks!r}")
    modes = ablation_modes()[::-1] if mode == "all" else [mode]
    if ablation:
        modes += [m for m in xling_ablation_modes() if m not in modes]
    paths = [Path(c) for c in corpus]
    the_judge = _judge(settings, judge)
    answers: dict[str, Any] = {}

    def on_engine(engine: Engine) -> None:
        if not retrieval_only:
            ts = from_qa_pair(paths, qa, limit)
            answers.update(
                answer_eval.run(engine, ts, judge=the_judge, progress=_progress("Answering"))
            )

    retrieval = run_eval(
        paths, qa, settings, cutoffs, modes, baseline=baseline, limit=limit, on_engine=on_engine
    )
    # The retrieval figures stay at the top (as before); the answer figures join them.
    retrieval.update({k: v for k, v in answers.items() if k not in retrieval})
    retrieval["date"] = date.today().isoformat()
    return retrieval


@main.command()
@click.option("--index", "index", type=click.Path(), help=_INDEX_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def doctor(index: str | None, as_json: bool) -> None:
    """Check the connected mode's endpoint: reachable, key, models, embedding dimension."""
    from rag import doctor as doc

    checks = doc.run(_settings(index))
    if as_json:
        _print_json([{"check": c.name, "status": c.status, "detail": c.detail} for c in checks])
    else:
        for c in checks:
            click.echo(f"[{c.status:^4}] {c.name}: {clean(c.detail)}")
    if any(c.status == doc.FAIL for c in checks):
        sys.exit(1)


@main.command()
@click.option("--index", "index", type=click.Path(), help=_INDEX_HELP)
def info(index: str | None) -> None:
    """Show what the index holds."""
    settings = _settings(index)
    manifest = settings.index_dir / "manifest.json"
    if not manifest.exists():
        _fail(f"no index at {settings.index_dir}; build one with `manba ingest PATH`")
    data = json.loads(manifest.read_text("utf-8"))
    data.pop("documents", None)
    _print_json(data)


if __name__ == "__main__":  # pragma: no cover
    main()
