"""The evaluate page: ask a test set's questions and see how well Manba answers them.

The test set is the bundled one (``data/testsets/samples.jsonl``: questions over the bundled
samples in ``data/samples``) or an uploaded JSONL file in the same format. A run asks every
question as the Ask page does (``rag.answer_eval.run``) and keeps the report, and the answers
of the questions that failed, in the session, so the page's other reruns (opening a failure,
a document) never ask again. The page shows the overall figures, the gold entries the index
lacks, the figures by question language, direction and tag, and each failure with its gold
and the passages the answer cited, rendered as on the Ask page.

Everything a test set supplies (ids, questions, answers, quotes) is data: it goes through
``ui.render.safe`` into blocks in their own direction, or is Markdown-escaped in labels.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import streamlit as st

from rag import answer_eval
from rag.config import Settings
from rag.engine import Engine
from rag.errors import IngestError, ManbaError
from rag.langs import detect
from rag.retrieval import Filters
from rag.testset import TestSet, load_testset
from rag.types import Answer
from ui.ask import doc_lookup, render_citation, render_hit
from ui.library import safe_file_name
from ui.render import LANG_NAMES, STYLE, answer_html, block, safe

if TYPE_CHECKING:  # pandas is imported when a report is shown: the app starts without it
    import pandas as pd

logger = logging.getLogger("manba.app")

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "data" / "testsets" / "samples.jsonl"
SOURCES = {"bundled": "Bundled test set", "upload": "Upload a JSONL file"}
STATE = "eval-run"  # the session's last run (EvalRun)
CLOSEST = 3  # closest passages shown for a failure that cited none


# --- figures ------------------------------------------------------------------------------


def share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def millis(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


@dataclass(frozen=True)
class Figure:
    key: str  # the key in the report's metrics
    label: str
    fmt: Callable[[float | None], str]
    help: str


# The metric cards, four a row. Definitions follow rag.answer_eval's docstring.
CARDS = (
    Figure(
        "recall@5",
        "Recall@5",
        share,
        "Share of a question's gold passages found among the first 5 passages retrieved "
        "(answerable questions).",
    ),
    Figure(
        "mrr@10",
        "MRR@10",
        number,
        "1 / rank of the first relevant passage within the first 10 (0 when none), averaged.",
    ),
    Figure(
        "citation_precision",
        "Citation precision",
        share,
        "Share of citations whose passage holds a gold quote, or whose cited sentence holds a "
        "gold answer.",
    ),
    Figure(
        "citation_recall",
        "Citation recall",
        share,
        "Share of a question's gold passages that some citation covers.",
    ),
    Figure(
        "answer_contains",
        "Answer containment",
        share,
        "Share of answerable questions whose answer contains a gold answer (whole words, "
        "after Persian/Arabic normalization).",
    ),
    Figure(
        "answer_f1",
        "Token F1",
        number,
        "SQuAD's token F1 between the answer and the best gold answer, averaged. An extractive "
        "answer quotes whole sentences, so this stays low even when the answer is right.",
    ),
    Figure(
        "abstain_precision",
        "Abstention precision",
        share,
        "Of the questions Manba declined to answer, the share that were unanswerable.",
    ),
    Figure(
        "abstain_recall",
        "Abstention recall",
        share,
        "Of the unanswerable questions, the share Manba declined to answer.",
    ),
    Figure(
        "faithfulness",
        "Faithfulness",
        share,
        "Share of the answers' sentences supported by the passages they cite (offline: 80% "
        "of a sentence's content words are in its cited passages).",
    ),
    Figure("latency_ms_p50", "Latency p50", millis, "Median time to answer one question."),
    Figure(
        "latency_ms_p95",
        "Latency p95",
        millis,
        "95th percentile of the time to answer one question.",
    ),
    Figure(
        "ok",
        "Questions right",
        share,
        "An answerable question is right when its answer contains a gold answer, an "
        "unanswerable one when Manba declined to answer.",
    ),
)
BY = {f.key: f for f in CARDS}
# The main figures charted by question language and by direction (all between 0 and 1).
CHARTED = ("recall@5", "mrr@10", "citation_precision", "answer_contains", "faithfulness", "ok")
TABLED = (
    "recall@5",
    "mrr@10",
    "citation_precision",
    "citation_recall",
    "answer_contains",
    "answer_f1",
    "abstain_precision",
    "abstain_recall",
    "faithfulness",
    "ok",
)
DIRECTIONS = {
    "same-language": "same language",
    "cross-lingual": "cross-lingual",
    "none": "unanswerable",
}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: str) -> str:
    """``text`` for a Markdown label or message: every character Markdown acts on escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def figures_frame(
    groups: dict[str, dict[str, Any]], keys: tuple[str, ...], names: dict[str, str]
) -> pd.DataFrame:
    """One row per group (named by ``names``, else as is), one column per figure; a figure no
    question of the group measures is missing (NaN)."""
    import pandas as pd

    rows = {
        names.get(g, g): {BY[k].label: _float(s.get(k)) for k in keys} for g, s in groups.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=[BY[k].label for k in keys])


def tag_frame(groups: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The figures by tag, with each tag's number of questions first."""
    frame = figures_frame(groups, TABLED, {})
    frame.insert(0, "Questions", [int(s.get("n", 0)) for s in groups.values()])
    frame.insert(1, "Answerable", [int(s.get("answerable", 0)) for s in groups.values()])
    frame.index.name = "Tag"
    return frame


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


# --- test sets and runs (no Streamlit) --------------------------------------------------


def load_bundled(path: Path = BUNDLED) -> TestSet:
    return load_testset(path)


def parse_upload(name: str, content: bytes) -> TestSet:
    """An uploaded JSONL test set, checked as ``load_testset`` checks a file. A broken file
    raises IngestError naming the uploaded file (not the temporary copy), the line and the
    field."""
    shown = safe_file_name(name) or "upload.jsonl"  # the last part of the name only
    with tempfile.TemporaryDirectory(prefix="manba-testset-") as tmp:
        path = Path(tmp) / shown
        path.write_bytes(content)
        try:
            return load_testset(path)
        except IngestError as err:
            raise IngestError(shown, err.reason, line=err.line) from err


class _Recorder:
    """The engine, keeping each answer it gives by question, so the failures shown are the
    answers that were scored (never asked twice: in connected mode an ask calls the model)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.answers: dict[str, Answer] = {}

    def ask(self, question: str, k: int | None = None, filters: Filters | None = None) -> Answer:
        answer = self._engine.ask(question, k, filters)
        self.answers[question] = answer
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


@dataclass(frozen=True)
class EvalRun:
    """One evaluation as the session keeps it."""

    report: dict[str, Any]
    source: str  # what was evaluated, for the page
    index_dir: str
    generation: int
    answers: dict[str, Answer] = field(default_factory=dict)  # failed questions', by case id


def evaluate(
    engine: Engine,
    testset: TestSet,
    source: str,
    progress: answer_eval.Progress | None = None,
) -> EvalRun:
    """Run ``testset`` against ``engine``; the report, with the failed questions' answers."""
    recorder = _Recorder(engine)
    report = answer_eval.run(cast(Engine, recorder), testset, progress=progress)
    answers = {
        row["id"]: recorder.answers[row["question"]]
        for row in report["questions"]
        if not row["ok"] and row["question"] in recorder.answers
    }
    return EvalRun(
        report, source, str(engine.settings.index_dir), engine.reader.generation, answers
    )


def failure_reason(row: dict[str, Any]) -> str:
    if not row["answerable"]:
        return "answered a question the documents cannot answer"
    if row["abstained"]:
        return "declined to answer"
    return "the answer holds no gold answer"


# --- the page ------------------------------------------------------------------------------


def choose_testset() -> tuple[TestSet | None, str]:
    """The test set chosen on the page (None: none yet, or a broken file, reported) and a
    description of it."""
    source = st.radio(
        "Test set",
        list(SOURCES),
        format_func=SOURCES.__getitem__,
        horizontal=True,
        key="eval-source",
    )
    if source == "bundled":
        st.caption(
            f"`{BUNDLED.relative_to(ROOT)}`: questions in Persian, Arabic and English over the "
            "bundled samples (`data/samples`, indexed by `make run`). Their gold documents "
            "must be in this index."
        )
        try:
            return load_bundled(), f"bundled test set {BUNDLED.name}"
        except ManbaError as err:
            st.error(f"The bundled test set cannot be read: {md(str(err))}")
            return None, ""
    upload = st.file_uploader(
        "Test set (JSONL)",
        type=["jsonl"],
        key="eval-upload",
        help="One question a line: id, question, question_lang, answers, gold "
        "([{doc_id, quote}]), answerable, tags; the format is in the README.",
    )
    if upload is None:
        st.caption("Upload a JSONL test set in Manba's format (see the README).")
        return None, ""
    try:
        testset = parse_upload(upload.name, upload.getvalue())
    except ManbaError as err:
        st.error(f"This test set cannot be used: {md(str(err))}")
        return None, ""
    return testset, f"uploaded test set {safe_file_name(upload.name)}"


def describe_testset(testset: TestSet) -> str:
    cases = testset.cases
    answerable = sum(c.answerable for c in cases)
    langs = ", ".join(
        f"{lang} {n}"
        for lang in ("fa", "ar", "en")
        if (n := sum(c.question_lang == lang for c in cases))
    )
    return (
        f"{len(cases)} questions ({answerable} answerable, {len(cases) - answerable} "
        f"unanswerable){': ' + langs if langs else ''}"
    )


def run_evaluation(engine: Engine, settings: Settings, testset: TestSet, source: str) -> None:
    bar = st.progress(0.0, text="Finding the gold passages in the index…")
    status = st.empty()

    def progress(i: int, n: int, case_id: str) -> None:
        bar.progress(i / n if n else 1.0, text=f"{i} of {n} questions asked")
        status.caption(f"Last asked: {md(case_id)}")

    try:
        done = evaluate(engine, testset, source, progress)
    except ManbaError as err:
        bar.empty()
        status.empty()
        st.error(str(err))
        return
    except Exception:
        logger.exception("evaluation of %s failed on %s", source, settings.index_dir)
        bar.empty()
        status.empty()
        st.error(
            f"Manba could not run the evaluation on the index at `{settings.index_dir}`: the "
            "index may be damaged. Rebuild it with `make index`, then run again."
        )
        return
    bar.empty()
    status.empty()
    st.session_state[STATE] = done


def render_metrics(metrics: dict[str, Any]) -> None:
    for start in range(0, len(CARDS), 4):
        for col, fig in zip(st.columns(4), CARDS[start : start + 4], strict=False):
            with col:
                st.metric(fig.label, fig.fmt(metrics.get(fig.key)), help=fig.help, border=True)


def render_chart(groups: dict[str, dict[str, Any]], names: dict[str, str]) -> None:
    """The main figures as bars, one colour per group (so the legend stays short)."""
    frame = figures_frame(groups, CHARTED, names).T
    st.bar_chart(
        frame,
        horizontal=True,
        stack=False,
        sort=False,
        x_label="",  # the figures (the bars are horizontal: labels follow the data)
        y_label="score (0–1)",
        height=60 + 22 * len(CHARTED) * max(1, len(groups)),
    )
    st.caption("Questions: " + ", ".join(f"{names.get(g, g)} {s['n']}" for g, s in groups.items()))


def render_breakdowns(by: dict[str, dict[str, Any]]) -> None:
    langs = by.get("question_lang", {})
    directions = by.get("direction", {})
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**By question language**")
        if langs:
            render_chart(langs, LANG_NAMES)
    with right:
        st.markdown("**By direction** (question language vs. gold document language)")
        if directions:
            render_chart(directions, DIRECTIONS)
    tags = by.get("tag", {})
    st.markdown("**By tag**")
    if not tags:
        st.caption("No question of this test set has a tag.")
        return
    shares = {BY[k].label for k in TABLED if BY[k].fmt is share}
    st.dataframe(
        tag_frame(tags),
        column_config={
            label: st.column_config.NumberColumn(format="percent" if label in shares else "%.3f")
            for label in (BY[k].label for k in TABLED)
        },
    )


def _texts(items: list[str]) -> str:
    """Each text in a block of its own language and direction."""
    return "".join(block(safe(t), detect(t)) for t in items)


def render_gold(row: dict[str, Any]) -> None:
    if not row["answerable"]:
        st.markdown("**Gold**")
        st.caption("Unanswerable: the documents do not hold the answer; Manba should decline.")
        return
    st.markdown("**Gold answers**")
    st.markdown(_texts(row["answers"]), unsafe_allow_html=True)
    st.markdown("**Gold quotes**")
    for g in row["gold"]:
        quote = g["quote"]
        st.markdown(
            f'<div class="manba-meta" dir="ltr"><code>{safe(g["doc_id"])}</code></div>'
            + (block(safe(quote), detect(quote)) if quote else ""),
            unsafe_allow_html=True,
        )
        if not quote:
            st.caption("Any passage of this document.")


def render_failure(row: dict[str, Any], answer: Answer | None, engine: Engine, key: str) -> None:
    """One failed question: the question and its gold, then Manba's answer beside the passages
    it cited (as on the Ask page), and what the scorer found wrong."""
    top_left, top_right = st.columns([3, 2], gap="large")
    with top_left:
        st.markdown("**Question**")
        lang = row["question_lang"] or detect(row["question"])
        st.markdown(block(safe(row["question"]), lang), unsafe_allow_html=True)
        retrieval = row.get("retrieval") or {}
        if retrieval:
            first = int(retrieval.get("first_rank", 0))
            st.caption(
                f"First relevant passage at rank {first} of {answer_eval.DEPTH}."
                if first
                else f"No relevant passage among the first {answer_eval.DEPTH}."
            )
    with top_right:
        render_gold(row)
    if answer is None:  # not kept with the report: ask again
        try:
            answer = engine.ask(row["question"])
        except ManbaError as err:
            st.error(str(err))
            return
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown("**Manba's answer**")
        for warning in row.get("warnings", []):
            st.warning(md(warning))
        if answer.abstained:
            st.warning("Manba declined to answer.")
        st.markdown(answer_html(answer, key), unsafe_allow_html=True)
        unsupported = row.get("unsupported") or []
        if unsupported:
            st.markdown("**Sentences their cited passages do not support**")
            st.markdown(_texts(unsupported), unsafe_allow_html=True)
        elif row.get("faithfulness") is not None:
            st.caption("Every sentence is supported by the passages it cites.")
    with right:
        hits = {h.chunk.chunk_id: h for h in answer.hits}
        info = doc_lookup(engine, answer)
        verdicts = {c["n"]: c["correct"] for c in row.get("citations", [])}
        if answer.citations:
            st.markdown("**Sources**")
            for c in answer.citations:
                if c.n in verdicts:
                    st.caption(
                        f"[{c.n}] "
                        + ("holds gold: a gold quote or answer" if verdicts[c.n] else "not gold")
                    )
                render_citation(c, hits.get(c.chunk_id), info(c.doc_id), key, engine)
        else:
            st.markdown("**Closest passages**")
            if not answer.hits:
                st.caption("No passage matched.")
            for r, h in enumerate(answer.hits[:CLOSEST], 1):
                render_hit(r, h, key, engine)


def render_report(done: EvalRun, engine: Engine, settings: Settings) -> None:
    report = done.report
    metrics = report["metrics"]
    st.subheader("Results")
    st.caption(
        f"{md(done.source)}: {report['n_questions']} questions ({metrics['answerable']} "
        f"answerable, {metrics['unanswerable']} unanswerable) in {report['seconds']:.1f} s · "
        f"{md(report['mode'])}"
    )
    if done.index_dir != str(settings.index_dir) or done.generation != engine.reader.generation:
        st.info(
            "The index has changed since this evaluation ran: these figures are the earlier "
            "index's. Run the evaluation again to update them."
        )
    for problem in report["problems"]:
        st.warning(md(problem))
    render_metrics(metrics)
    st.download_button(
        "Download the report (JSON)",
        json.dumps(report, ensure_ascii=False, indent=2),
        file_name=f"manba-eval-{safe_file_name(str(report['testset'])) or 'report'}.json",
        mime="application/json",
        key="eval-download",
        on_click="ignore",
        icon=":material/download:",
    )
    render_breakdowns(report["by"])
    failed = [row for row in report["questions"] if not row["ok"]]
    st.subheader(f"Failures ({len(failed)} of {report['n_questions']})")
    if not failed:
        st.success("Every question was answered right.")
        return
    st.caption(
        "An answerable question fails when its answer holds no gold answer (or Manba declined); "
        "an unanswerable one when Manba answered it."
    )
    for i, row in enumerate(failed):
        label = f"{md(row['id'])} · {row['question_lang'] or '?'} · {failure_reason(row)}"
        with st.expander(label):
            render_failure(row, done.answers.get(row["id"]), engine, f"eval{i}")


def evaluate_page(engine: Engine, settings: Settings) -> None:
    st.html(STYLE)
    with st.sidebar:
        st.markdown(f"**Mode:** {engine.mode_label}")
    st.header("Evaluate")
    st.caption(
        "Ask every question of a test set as the Ask page would, and score the retrieval, the "
        "citations, the answers, abstention and faithfulness."
    )
    testset, source = choose_testset()
    if testset is not None:
        st.caption(describe_testset(testset))
    if (
        st.button(
            "Run evaluation",
            type="primary",
            disabled=testset is None,
            key="eval-run-button",
            icon=":material/play_arrow:",
        )
        and testset is not None
    ):
        run_evaluation(engine, settings, testset, source)
    done = st.session_state.get(STATE)
    if isinstance(done, EvalRun):
        render_report(done, engine, settings)
