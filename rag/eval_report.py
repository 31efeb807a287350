"""Reports on an answer-quality evaluation: a terminal table, a self-contained HTML page, and
the comparison of two runs.

All three read the report dict of :func:`rag.answer_eval.run` (``metrics``, ``by``,
``questions``...). Any figure may be None ("-" here); keys a later version adds (token counts
in connected mode) are shown when present and never required.

The HTML page loads nothing: inline CSS, SVG charts drawn here, no scripts, no fonts, no
links out. Every piece of text from the report is escaped (documents may hold hostile HTML),
and Persian/Arabic text is laid out right to left.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# Overall figures, grouped, with short labels for the terminal and longer ones for HTML.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Retrieval", ("recall@1", "recall@5", "recall@20", "mrr@10", "ndcg@10")),
    ("Citations", ("citation_precision", "citation_recall")),
    ("Answers", ("answer_contains", "answer_f1", "ok")),
    ("Abstention", ("abstain_precision", "abstain_recall")),
    ("Faithfulness", ("faithfulness",)),
    ("Latency", ("latency_ms_p50", "latency_ms_p95")),
)
SHORT = {
    "recall@1": "R@1",
    "recall@5": "R@5",
    "recall@20": "R@20",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "citation_precision": "precision",
    "citation_recall": "recall",
    "answer_contains": "contains",
    "answer_f1": "F1",
    "ok": "ok",
    "abstain_precision": "precision",
    "abstain_recall": "recall",
    "faithfulness": "faithful",
    "latency_ms_p50": "p50",
    "latency_ms_p95": "p95",
}
LONG = {
    "recall@1": "Recall@1",
    "recall@5": "Recall@5",
    "recall@20": "Recall@20",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "citation_precision": "Citation precision",
    "citation_recall": "Citation recall",
    "answer_contains": "Answer contains gold",
    "answer_f1": "Answer token F1",
    "ok": "Questions passed",
    "abstain_precision": "Abstention precision",
    "abstain_recall": "Abstention recall",
    "faithfulness": "Faithfulness",
    "latency_ms_p50": "Latency p50",
    "latency_ms_p95": "Latency p95",
}
COUNTS = frozenset({"n", "answerable", "unanswerable"})
# The columns of a breakdown table: (header, figure).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("R@5", "recall@5"),
    ("MRR@10", "mrr@10"),
    ("cit P", "citation_precision"),
    ("cit R", "citation_recall"),
    ("contains", "answer_contains"),
    ("F1", "answer_f1"),
    ("abst P", "abstain_precision"),
    ("abst R", "abstain_recall"),
    ("faithful", "faithfulness"),
    ("ok", "ok"),
    ("n", "n"),
)
# The bars of a chart (all figures in [0, 1]): (label, figure, colour).
CHART: tuple[tuple[str, str, str], ...] = (
    ("R@5", "recall@5", "#4e79a7"),
    ("MRR@10", "mrr@10", "#76b7b2"),
    ("cit R", "citation_recall", "#59a14f"),
    ("contains", "answer_contains", "#edc948"),
    ("F1", "answer_f1", "#f28e2b"),
    ("faithful", "faithfulness", "#b07aa1"),
    ("ok", "ok", "#e15759"),
)
BREAKDOWNS: tuple[tuple[str, str], ...] = (
    ("question_lang", "By question language"),
    ("direction", "By direction"),
    ("tag", "By tag"),
)
DIRECTION_ORDER = ("same-language", "cross-lingual", "none")
RTL_LANGS = frozenset({"fa", "ar", "ur", "ps", "ckb", "he"})
RTL_FONTS = "Vazirmatn, Noto Naskh Arabic, Tahoma, sans-serif"
_EPS = 1e-9


# --- values -----------------------------------------------------------------------------
def _num(value: Any) -> float | None:
    """A figure as a float; None for None, booleans, text and NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return None if math.isnan(f) else f


def _is_cost(name: str) -> bool:
    """Figures where lower is better and that are never quality regressions."""
    return name.startswith(("latency", "tokens", "cost")) or name == "seconds"


def _fmt(name: str, value: Any) -> str:
    """One figure for display: None as "-", counts as integers, latency in ms."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return _fmt(name, _tokens_total(value))
    f = _num(value)
    if f is None:
        return str(value) if not isinstance(value, float) else "-"
    if name.startswith("latency"):
        return f"{f:.1f} ms"
    if name == "seconds":
        return f"{f:.2f}"
    if name in COUNTS or name.startswith("tokens") or isinstance(value, int):
        return f"{round(f):d}"
    return f"{f:.3f}"


def _tokens_total(value: Any) -> int | None:
    """A question's token count: a number, or a dict with 'total' or parts to add up."""
    if isinstance(value, dict):
        if _num(value.get("total")) is not None:
            return int(value["total"])
        parts = [_num(v) for v in value.values()]
        nums = [p for p in parts if p is not None]
        return int(sum(nums)) if nums else None
    f = _num(value)
    return None if f is None else int(f)


def _failed(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [q for q in report.get("questions") or [] if not q.get("ok")]


def _groups(report: dict[str, Any]) -> list[tuple[str, str, list[tuple[str, dict[str, Any]]]]]:
    """The breakdowns present: (key, title, [(value, figures)]), directions in a fixed order."""
    by = report.get("by") or {}
    titles = dict(BREAKDOWNS)
    keys = [k for k, _ in BREAKDOWNS if k in by] + sorted(k for k in by if k not in titles)
    out = []
    for key in keys:
        items = list((by.get(key) or {}).items())
        if key == "direction":
            rank = {d: i for i, d in enumerate(DIRECTION_ORDER)}
            items.sort(key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))
        if items:
            out.append((key, titles.get(key, f"By {key}"), items))
    return out


def _extra_metrics(metrics: dict[str, Any]) -> list[str]:
    """Overall figures not in GROUPS or COUNTS (tokens_total...), in a stable order."""
    known = {name for _, names in GROUPS for name in names} | COUNTS
    return sorted(k for k in metrics if k not in known)


# --- terminal ---------------------------------------------------------------------------
def _grid(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell: the first left-aligned, the others right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _truncate(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(report: dict[str, Any]) -> str:
    """The report for a terminal: overall figures by group, one table per breakdown, the
    problems found in the test set and the failed questions."""
    m: dict[str, Any] = report.get("metrics") or {}
    lines = [
        f"Test set: {report.get('testset', '?')}   mode: {report.get('mode', '?')}   "
        f"questions: {report.get('n_questions', '?')}   "
        f"time: {_fmt('seconds', report.get('seconds'))} s",
        f"Questions: {_fmt('n', m.get('n'))} (answerable {_fmt('n', m.get('answerable'))}, "
        f"unanswerable {_fmt('n', m.get('unanswerable'))})",
        "",
    ]
    width = max(len(g) for g, _ in GROUPS)
    for group, names in GROUPS:
        cells = [f"{SHORT[n]} {_fmt(n, m.get(n))}" for n in names]
        lines.append(f"{group.ljust(width)}  " + "   ".join(cells))
    extra = _extra_metrics(m)
    if extra:
        cells = [f"{n} {_fmt(n, m.get(n))}" for n in extra]
        lines.append(f"{'Other'.ljust(width)}  " + "   ".join(cells))
    for key, title, items in _groups(report):
        lines += ["", title]
        rows = [[str(k), *(_fmt(f, (v or {}).get(f)) for _, f in COLUMNS)] for k, v in items]
        lines += _grid([key, *(h for h, _ in COLUMNS)], rows)
    problems = report.get("problems") or []
    if problems:
        lines += ["", f"Problems ({len(problems)}):"]
        lines += [f"  - {p}" for p in problems]
    failed = _failed(report)
    total = len(report.get("questions") or [])
    lines += ["", f"Failed questions: {len(failed)} of {total}"]
    if failed:
        ids = [str(q.get("id", "?")) for q in failed]
        shown = ", ".join(ids[:20]) + (f", … (+{len(ids) - 20})" if len(ids) > 20 else "")
        lines.append(f"  {shown}")
    return "\n".join(lines)


# --- HTML -------------------------------------------------------------------------------
def _e(value: Any) -> str:
    """Any text from the report, escaped for HTML content and quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def _dir(lang: Any) -> str:
    return "rtl" if str(lang or "").lower() in RTL_LANGS else "auto"


def _text(tag: str, value: Any, lang: Any = None, cls: str = "") -> str:
    """Escaped text in an element that lays it out right to left when it should."""
    attrs = f' dir="{_dir(lang)}"'
    if lang and str(lang).isascii() and str(lang).replace("-", "").isalnum():
        attrs += f' lang="{_e(lang)}"'
    if cls:
        attrs += f' class="{cls}"'
    return f"<{tag}{attrs}>{_e(value)}</{tag}>"


def _quality_class(name: str, value: Any) -> str:
    f = _num(value)
    if f is None or _is_cost(name) or name in COUNTS:
        return ""
    return "good" if f >= 0.8 else "fair" if f >= 0.5 else "poor"


def _card(name: str, value: Any) -> str:
    label = LONG.get(name, name)
    cls = _quality_class(name, value)
    return (
        f'<div class="card {cls}"><div class="label">{_e(label)}</div>'
        f'<div class="value">{_e(_fmt(name, value))}</div></div>'
    )


def _svg_chart(title: str, items: list[tuple[str, dict[str, Any]]]) -> str:
    """Horizontal bars, one cluster per group value, one bar per CHART figure (0 to 1)."""
    label_w, bar_w, value_w = 170, 420, 56
    bar_h, gap, pad, top = 10, 2, 12, 22
    cluster = len(CHART) * (bar_h + gap) - gap
    height = top + len(items) * (cluster + pad) + 4
    width = label_w + bar_w + value_w
    out = [
        f'<svg class="chart" role="img" aria-label="{_e(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{_e(title)}</title>",
    ]
    for i in range(5):
        x = label_w + bar_w * i / 4
        out.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 2}" class="grid"/>'
            f'<text x="{x:.1f}" y="{top - 8}" class="tick" text-anchor="middle">{i / 4:g}</text>'
        )
    y = top
    for key, figures in items:
        figures = figures or {}
        label = f"{_truncate(str(key), 20)} (n={_fmt('n', figures.get('n'))})"
        mid = y + cluster / 2 + 4
        out.append(
            f'<text x="{label_w - 8}" y="{mid:.1f}" class="glabel" text-anchor="end">'
            f"<title>{_e(key)}</title>{_e(label)}</text>"
        )
        for j, (short, name, colour) in enumerate(CHART):
            by = y + j * (bar_h + gap)
            value = _num(figures.get(name))
            tip = f"{key} · {short}: {_fmt(name, figures.get(name))}"
            if value is not None:
                w = bar_w * min(1.0, max(0.0, value))
                out.append(
                    f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h}" '
                    f'fill="{colour}"><title>{_e(tip)}</title></rect>'
                )
            else:
                w = 0.0
            out.append(
                f'<text x="{label_w + w + 4:.1f}" y="{by + bar_h - 1}" class="val">'
                f"{_e(_fmt(name, figures.get(name)))}</text>"
            )
        y += cluster + pad
    out.append("</svg>")
    legend = "".join(
        f'<span class="key"><span class="swatch" style="background:{colour}"></span>'
        f"{_e(short)}</span>"
        for short, _, colour in CHART
    )
    return "\n".join(out) + f'\n<div class="legend">{legend}</div>'


def _breakdown_table(key: str, items: list[tuple[str, dict[str, Any]]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in [key, *(h for h, _ in COLUMNS)])
    rows = []
    for value, figures in items:
        cells = "".join(
            f'<td class="num">{_e(_fmt(f, (figures or {}).get(f)))}</td>' for _, f in COLUMNS
        )
        rows.append(f"<tr>{_text('td', value)}{cells}</tr>")
    return (
        f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _questions_table(questions: list[dict[str, Any]], anchors: dict[int, str]) -> str:
    with_tokens = any("tokens" in q for q in questions)
    heads = ["id", "question", "lang", "direction", "ok", "contains", "F1", "R@5", "latency"]
    if with_tokens:
        heads.append("tokens")
    rows = []
    for i, q in enumerate(questions):
        lang = q.get("question_lang")
        ok = bool(q.get("ok"))
        qid = _e(q.get("id", "?"))
        id_cell = f'<a href="#{anchors[i]}">{qid}</a>' if i in anchors else qid
        retrieval = q.get("retrieval") or {}
        cells = [
            f'<td dir="auto">{id_cell}</td>',
            _text("td", _truncate(q.get("question", ""), 90), lang, "qtext"),
            _text("td", lang or "?"),
            _text("td", q.get("direction", "?")),
            f'<td class="{"pass" if ok else "fail"}">{"✓ yes" if ok else "✗ no"}</td>',
            f'<td class="num">{_e(_fmt("contains", q.get("contains")))}</td>',
            f'<td class="num">{_e(_fmt("f1", q.get("f1")))}</td>',
            f'<td class="num">{_e(_fmt("recall@5", retrieval.get("recall@5")))}</td>',
            f'<td class="num">{_e(_fmt("latency_ms", q.get("latency_ms")))}</td>',
        ]
        if with_tokens:
            cells.append(f'<td class="num">{_e(_fmt("tokens", q.get("tokens")))}</td>')
        rows.append(f'<tr class="{"pass" if ok else "fail"}">{"".join(cells)}</tr>')
    head = "".join(f"<th>{_e(h)}</th>" for h in heads)
    return (
        f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _failure(q: dict[str, Any], anchor: str) -> str:
    lang = q.get("question_lang")
    tags = ", ".join(str(t) for t in q.get("tags") or [])
    meta = [
        f"lang {q.get('question_lang') or '?'}",
        f"direction {q.get('direction', '?')}",
        "answerable" if q.get("answerable") else "unanswerable",
    ]
    if tags:
        meta.append(f"tags {tags}")
    if q.get("latency_ms") is not None:
        meta.append(f"latency {_fmt('latency_ms', q.get('latency_ms'))}")
    first = (q.get("retrieval") or {}).get("first_rank")
    if first is not None:
        meta.append(f"first relevant passage at rank {_fmt('n', first) if first else 'none'}")
    parts = [
        f'<article class="failure" id="{anchor}">',
        f'<h3 dir="auto">{_e(q.get("id", "?"))}</h3>',
        f'<p class="meta" dir="auto">{_e(" · ".join(meta))}</p>',
        "<h4>Question</h4>",
        _text("p", q.get("question", ""), lang, "question"),
    ]
    answers = q.get("answers") or []
    parts.append("<h4>Gold answers</h4>")
    if answers:
        items = "".join(_text("li", a, lang) for a in answers)
        parts.append(f'<ul dir="{_dir(lang)}">{items}</ul>')
    else:
        parts.append('<p class="none">none (the question is unanswerable)</p>')
    gold = q.get("gold") or []
    if gold:
        parts.append("<h4>Gold quotes</h4><ul>")
        for g in gold:
            parts.append(
                f'<li><span class="doc" dir="auto">{_e(g.get("doc_id", "?"))}</span> '
                f"{_text('blockquote', g.get('quote') or '(whole document)')}</li>"
            )
        parts.append("</ul>")
    state = " (abstained)" if q.get("abstained") else ""
    parts.append(f"<h4>System answer{_e(state)}</h4>")
    parts.append(_text("p", q.get("answer") or "", lang, "answer"))
    cits = q.get("citations") or []
    if cits:
        parts.append('<h4>Citations</h4><ol class="citations">')
        for c in cits:
            correct = bool(c.get("correct"))
            mark = "✓ correct" if correct else "✗ incorrect"
            parts.append(
                f'<li class="{"pass" if correct else "fail"}">'
                f'<span class="n">[{_e(c.get("n", "?"))}]</span> '
                f'<span class="doc" dir="auto">{_e(c.get("doc_id", "?"))}</span> '
                f'<span class="lang">{_e(c.get("lang") or "?")}</span> '
                f'<span class="mark">{mark}</span>'
                f"{_text('blockquote', c.get('quote') or '', c.get('lang'))}</li>"
            )
        parts.append("</ol>")
    else:
        parts.append('<h4>Citations</h4><p class="none">none</p>')
    unsupported = q.get("unsupported") or []
    if unsupported:
        items = "".join(_text("li", s, lang) for s in unsupported)
        parts.append(
            f'<h4>Unsupported sentences</h4><ul class="unsupported" dir="{_dir(lang)}">{items}</ul>'
        )
    warnings = q.get("warnings") or []
    if warnings:
        items = "".join(_text("li", w) for w in warnings)
        parts.append(f"<h4>Warnings</h4><ul>{items}</ul>")
    parts.append("</article>")
    return "\n".join(parts)


_CSS = """
body { font-family: system-ui, Segoe UI, Roboto, Helvetica, Arial, FONTS; margin: 0 auto;
  max-width: 1200px; padding: 1.5rem; color: #1f2328; background: #fff; line-height: 1.45; }
[dir="rtl"], [dir="auto"], :lang(fa), :lang(ar) { font-family: FONTS; }
h1 { margin: 0 0 .3rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
.sub { color: #57606a; margin: 0; }
.group { margin: .8rem 0; } .group h3 { margin: .3rem 0; font-size: 1rem; color: #57606a; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr));
  gap: .5rem; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem .7rem;
  border-left: 5px solid #d0d7de; }
.card .label { font-size: .8rem; color: #57606a; } .card .value { font-size: 1.4rem; }
.card.good { border-left-color: #2da44e; } .card.fair { border-left-color: #d4a72c; }
.card.poor { border-left-color: #cf222e; }
table.data { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }
table.data th, table.data td { border: 1px solid #d0d7de; padding: .25rem .5rem; }
table.data th { background: #f6f8fa; } td.num { text-align: right;
  font-variant-numeric: tabular-nums; }
tr.fail td, td.fail { background: #fff5f5; } td.pass { color: #1a7f37; }
td.fail { color: #cf222e; }
.chart { max-width: 100%; height: auto; font-size: 11px; }
.chart .grid { stroke: #d0d7de; stroke-width: 1; } .chart .tick { fill: #57606a; }
.chart .glabel { fill: #1f2328; font-size: 12px; } .chart .val { fill: #57606a; }
.legend { font-size: .85rem; margin-bottom: 1rem; }
.key { margin-right: 1rem; white-space: nowrap; }
.swatch { display: inline-block; width: .8em; height: .8em; margin-right: .3em;
  vertical-align: middle; }
.failure { border: 1px solid #d0d7de; border-radius: 6px; padding: .6rem 1rem;
  margin: 1rem 0; }
.failure h3 { margin: 0; } .failure h4 { margin: .8rem 0 .2rem; font-size: .95rem; }
.meta { color: #57606a; font-size: .85rem; margin: .2rem 0; }
.question, .answer { white-space: pre-wrap; background: #f6f8fa; padding: .4rem .6rem;
  border-radius: 4px; margin: 0; }
blockquote { margin: .2rem 0 .4rem; padding: .3rem .6rem; border-inline-start: 3px solid
  #d0d7de; background: #f6f8fa; white-space: pre-wrap; }
.citations li.pass .mark { color: #1a7f37; } .citations li.fail .mark { color: #cf222e; }
.doc { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: .85rem; }
.unsupported li { color: #9a6700; } .none { color: #57606a; font-style: italic; }
.problems li { color: #9a6700; }
""".replace("FONTS", RTL_FONTS)


def write_html(report: dict[str, Any], out_dir: Path) -> Path:
    """Write ``out_dir/index.html``, a page that needs nothing else, and return its path."""
    m: dict[str, Any] = report.get("metrics") or {}
    questions: list[dict[str, Any]] = list(report.get("questions") or [])
    failed_idx = [i for i, q in enumerate(questions) if not q.get("ok")]
    anchors = {i: f"failure-{n}" for n, i in enumerate(failed_idx, 1)}
    date = report.get("date") or datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    name = report.get("testset") or "evaluation"
    sub = (
        f"{date} · mode {report.get('mode', '?')} · {report.get('n_questions', '?')} questions"
        f" ({_fmt('n', m.get('answerable'))} answerable, "
        f"{_fmt('n', m.get('unanswerable'))} unanswerable) · "
        f"{_fmt('seconds', report.get('seconds'))} s · {len(failed_idx)} failed"
    )
    body = [
        "<header>",
        f'<h1 dir="auto">Manba evaluation: {_e(name)}</h1>',
        f'<p class="sub" dir="auto">{_e(sub)}</p>',
        "</header>",
    ]
    problems = report.get("problems") or []
    if problems:
        listed = "".join(_text("li", p) for p in problems)
        body.append(f'<h2>Problems in the test set</h2><ul class="problems">{listed}</ul>')
    body.append("<h2>Overall</h2>")
    groups = list(GROUPS)
    extra = _extra_metrics(m)
    if extra:
        groups.append(("Other", tuple(extra)))
    for group, names in groups:
        cards = "".join(_card(n, m.get(n)) for n in names)
        body.append(
            f'<section class="group"><h3>{_e(group)}</h3><div class="cards">{cards}</div></section>'
        )
    for key, title, items in _groups(report):
        body.append(f"<h2>{_e(title)}</h2>")
        body.append(_svg_chart(title, items))
        body.append(_breakdown_table(key, items))
    body.append(f"<h2>Questions ({len(questions)})</h2>")
    body.append(_questions_table(questions, anchors))
    body.append(f"<h2>Failures ({len(failed_idx)})</h2>")
    if failed_idx:
        body += [_failure(questions[i], anchors[i]) for i in failed_idx]
    else:
        body.append('<p class="none">Every question passed.</p>')
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            # Nothing may load or run, even if something slipped through unescaped.
            '<meta http-equiv="Content-Security-Policy" '
            "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>Manba evaluation: {_e(name)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(page, "utf-8")
    return path


# --- comparison -------------------------------------------------------------------------
Delta = tuple[str, float | None, float | None, float | None]


@dataclass
class Comparison:
    """How a new run differs from an old one.

    ``metrics``: quality figures (higher is better) present in both, as (name, old, new,
    delta); ``costs``: latency and token figures, reported but never regressions.
    ``improved``: questions whose ok went False -> True or whose score (token F1 when
    answerable) rose; ``regressed``: questions whose ok went True -> False. ``regressions``:
    quality figures that dropped by more than ``tolerance``.
    """

    metrics: list[Delta]
    improved: list[str]
    regressed: list[str]
    regressions: list[str]
    regressed_beyond_tolerance: bool
    tolerance: float
    costs: list[Delta] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    matched: int = 0
    questions: dict[str, str] = field(default_factory=dict)  # id -> question, for display

    @property
    def regressed_share(self) -> float:
        return len(self.regressed) / self.matched if self.matched else 0.0


def _question_score(q: dict[str, Any]) -> float:
    """One question's score: token F1 when answerable, 1/0 for a right/wrong abstention."""
    if q.get("answerable", True):
        return _num(q.get("f1")) or 0.0
    return 1.0 if q.get("ok") else 0.0


def _ordered(names: set[str]) -> list[str]:
    order = [n for _, group in GROUPS for n in group]
    return [n for n in order if n in names] + sorted(names - set(order))


def compare(old: dict[str, Any], new: dict[str, Any], tolerance: float) -> Comparison:
    """Compare two reports of the same test set; questions are matched by id."""
    if tolerance < 0:
        raise ValueError(f"tolerance must not be negative, got {tolerance}")
    om: dict[str, Any] = old.get("metrics") or {}
    nm: dict[str, Any] = new.get("metrics") or {}
    metrics: list[Delta] = []
    costs: list[Delta] = []
    regressions: list[str] = []
    for name in _ordered((set(om) & set(nm)) - COUNTS):
        a, b = _num(om[name]), _num(nm[name])
        if a is None and b is None:
            continue
        delta = round(b - a, 6) if a is not None and b is not None else None
        if _is_cost(name):
            costs.append((name, a, b, delta))
            continue
        metrics.append((name, a, b, delta))
        if delta is not None and -delta > tolerance + _EPS:
            regressions.append(name)

    oq = {str(q.get("id")): q for q in old.get("questions") or []}
    nq = {str(q.get("id")): q for q in new.get("questions") or []}
    improved: list[str] = []
    regressed: list[str] = []
    matched = [i for i in nq if i in oq]
    for qid in matched:
        was, now = bool(oq[qid].get("ok")), bool(nq[qid].get("ok"))
        if was and not now:
            regressed.append(qid)
        elif (now and not was) or _question_score(nq[qid]) > _question_score(oq[qid]) + _EPS:
            improved.append(qid)
    texts = {qid: str(q.get("question", "")) for qid, q in {**oq, **nq}.items()}
    share = len(regressed) / len(matched) if matched else 0.0
    return Comparison(
        metrics=metrics,
        improved=improved,
        regressed=regressed,
        regressions=regressions,
        regressed_beyond_tolerance=bool(regressions) or share > tolerance + _EPS,
        tolerance=tolerance,
        costs=costs,
        added=[i for i in nq if i not in oq],
        removed=[i for i in oq if i not in nq],
        matched=len(matched),
        questions=texts,
    )


def _signed(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    if name.startswith("latency"):
        return f"{value:+.1f} ms"
    if name.startswith("tokens"):
        return f"{round(value):+d}"
    return f"{value:+.3f}"


def format_comparison(c: Comparison) -> str:
    """The comparison for a terminal: figure deltas, then the questions that changed."""
    rows = []
    for name, a, b, d in c.metrics:
        flag = "REGRESSION" if name in c.regressions else ""
        rows.append([name, _fmt(name, a), _fmt(name, b), _signed(name, d), flag])
    lines = _grid(["figure", "old", "new", "delta", ""], rows) if rows else ["(no figures)"]
    if c.costs:
        lines += ["", "Latency and cost (reported, never regressions)"]
        lines += _grid(
            ["figure", "old", "new", "delta"],
            [[n, _fmt(n, a), _fmt(n, b), _signed(n, d)] for n, a, b, d in c.costs],
        )
    lines += [
        "",
        f"Questions: {c.matched} in both, {len(c.added)} added, {len(c.removed)} removed",
    ]
    for title, ids in (("Improved", c.improved), ("Regressed", c.regressed)):
        lines.append(f"{title} ({len(ids)}):")
        width = max((len(i) for i in ids), default=0)
        lines += [f"  {i.ljust(width)}  {_truncate(c.questions.get(i, ''), 70)}" for i in ids]
    for title, ids in (("Added", c.added), ("Removed", c.removed)):
        if ids:
            lines.append(f"{title}: {', '.join(ids)}")
    share = f"{c.regressed_share:.0%} of questions regressed"
    if c.regressed_beyond_tolerance:
        why = ", ".join(c.regressions) or "no figure"
        lines.append(f"\nREGRESSED beyond tolerance {c.tolerance:g}: {why}; {share}")
    else:
        lines.append(f"\nNo regression beyond tolerance {c.tolerance:g} ({share})")
    return "\n".join(lines)
