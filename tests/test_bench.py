"""The speed benchmark (benchmarks/bench.py): its pieces, and one whole run on a tiny corpus
made here (never ../shared), with the llama-index baseline."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench

CITIES = {
    "ar": ["تونس", "صفاقس", "سوسة", "القيروان", "بنزرت", "قابس", "المنستير", "نابل"],
    "fa": ["تهران", "اصفهان", "شیراز", "تبریز", "مشهد", "قزوین", "کرمان", "یزد"],
    "en": ["Tehran", "Damascus", "Baghdad", "Beirut", "Ankara", "Moscow", "Doha", "Muscat"],
}
TOPICS = {
    "ar": ["الميزانية", "الانتخابات البلدية", "كرة القدم", "الفلاحة", "السياحة", "التعليم"],
    "fa": ["بودجه", "انتخابات شورا", "فوتبال", "کشاورزی", "گردشگری", "آموزش"],
    "en": ["the budget", "local elections", "football", "farming", "tourism", "schools"],
}


def _article(lang: str, i: int) -> dict[str, Any]:
    city = CITIES[lang][i % len(CITIES[lang])]
    topic = TOPICS[lang][i % len(TOPICS[lang])]
    n = 100 + 37 * i
    if lang == "ar":
        title = f"{city}: اجتماع حول {topic} رقم {i}"
        sentences = [
            f"عقد والي {city} اجتماعا يوم الاثنين لبحث ملف {topic} بحضور {n} مشاركا.",
            f"وأكد المسؤولون أن مشروع {topic} في {city} سيكلف {n * 3} ألف دينار.",
            f"وقال رئيس البلدية إن الأشغال ستنطلق قبل نهاية السنة في {city}.",
        ]
    elif lang == "fa":
        title = f"نشست {topic} در {city} شماره {i}"
        sentences = [
            f"به گزارش خبرنگار ما، استاندار {city} روز دوشنبه درباره {topic} با {n} نفر "
            "گفت‌وگو کرد.",
            f"وی گفت هزینه طرح {topic} در {city} به {n * 3} میلیون ریال می‌رسد.",
            f"شهردار {city} افزود کار تا پایان سال آغاز می‌شود.",
        ]
    else:
        title = f"{city} officials meet on {topic}, round {i}"
        sentences = [
            f"Officials in {city} met on Monday to discuss {topic} with {n} delegates.",
            f"They said the {topic} plan for {city} would cost {n * 3} thousand dollars.",
            f"The mayor of {city} added that work would begin before the end of the year.",
        ]
    row: dict[str, Any] = {
        "id": f"tiny.{lang}.{i}",
        "title": title,
        "text": " ".join(sentences * (1 + i % 3)),
        "lang": lang,
    }
    if lang == "ar":
        row["meta"] = {"date": f"2016-{1 + i % 12:02d}-{1 + i % 27:02d}", "source": "Radio Tiny"}
    return row


def tiny_sources(per_lang: int = 10) -> dict[str, list[dict[str, Any]]]:
    return {lang: [_article(lang, i) for i in range(per_lang)] for lang in bench.LANGS}


# --- pieces ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "values", [[5.0], [1.0, 2.0], [3.0, 1.0, 2.0, 10.0, 7.5], list(np.linspace(0, 1, 101))]
)
@pytest.mark.parametrize("q", [0, 50, 95, 99, 100])
def test_percentile_matches_numpy(values: list[float], q: float) -> None:
    assert bench.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_refuses_nothing() -> None:
    with pytest.raises(ValueError, match="nothing was measured"):
        bench.percentile([], 50)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        bench.percentile([1.0], 101)


def test_latency_stats_in_ms() -> None:
    stats = bench.latency_stats([0.001, 0.002, 0.003, 0.004])
    assert stats["n"] == 4
    assert stats["p50_ms"] == pytest.approx(2.5)
    assert stats["max_ms"] == pytest.approx(4.0)
    assert bench.latency_stats([]) == {"n": 0}


def _pools(n_ar: int, n_fa: int, n_en: int) -> dict[str, list[dict[str, Any]]]:
    return {
        "ar": [{"id": f"ar{i}", "text": "x"} for i in range(n_ar)],
        "fa": [{"id": f"fa{i}", "text": "x"} for i in range(n_fa)],
        "en": [{"id": f"en{i}", "text": "x"} for i in range(n_en)],
    }


PER_ARTICLE = {"ar": 1.3, "fa": 2.2, "en": 2.8}


@pytest.mark.parametrize("target", [1_000, 3_000, 8_000])
def test_corpus_keeps_ar_fa_whole_and_fills_with_english(target: int) -> None:
    pools = _pools(300, 100, 5_000)
    chosen, estimate, whole, notes = bench.select_articles(
        pools, PER_ARTICLE, target, min_others=10
    )
    assert whole == ["ar", "fa"] and not notes
    assert len(chosen["ar"]) == 300 and len(chosen["fa"]) == 100
    # Within one English article's chunks of the target.
    assert abs(estimate - target) <= PER_ARTICLE["en"]
    again, *_ = bench.select_articles(pools, PER_ARTICLE, target, min_others=10)
    assert [r["id"] for r in again["en"]] == [r["id"] for r in chosen["en"]]  # seeded


def test_corpus_below_the_whole_languages_samples_in_proportion() -> None:
    pools = _pools(300, 100, 5_000)
    chosen, estimate, whole, notes = bench.select_articles(pools, PER_ARTICLE, 500)
    assert abs(estimate - 500) / 500 < 0.02
    assert 0 < len(chosen["ar"]) < 300 and 0 < len(chosen["fa"]) < 100
    assert "sampled in proportion" in notes[0] and whole == []
    # A named size keeps ar/fa whole however small its target, and says so.
    forced, estimate, whole, notes = bench.select_articles(
        pools, PER_ARTICLE, 500, force_whole=True, min_others=10
    )
    assert len(forced["ar"]) == 300 and len(forced["en"]) == 10
    assert whole == ["ar", "fa"] and "above the 500-chunk target" in notes[0]


def test_held_out_articles_are_never_ingested() -> None:
    sources = tiny_sources(10)
    pools, held = bench.split_held_out(sources, 3)
    for lang in bench.LANGS:
        assert len(held[lang]) == 3 and len(pools[lang]) == 7
        assert not {r["id"] for r in held[lang]} & {r["id"] for r in pools[lang]}
    assert bench.split_held_out(sources, 3)[1] == held  # seeded


def test_table_shows_targets_and_ratios() -> None:
    ours = {"ingest_chunks_per_s": 500.0, "retrieval_p95_ms": 12.0, "index_mb": 80.0}
    base = {"ingest_chunks_per_s": 1000.0, "retrieval_p95_ms": 24.0, "index_mb": None}
    table = bench.format_table(ours, base, "title line")
    lines = table.splitlines()
    assert lines[0] == "title line"
    assert lines[1].split()[:2] == ["figure", "Manba"]
    ingest = next(line for line in lines if line.startswith("ingest, end to end (chunks/s)"))
    assert ">= 1,000" in ingest and "  NO  " in ingest and ingest.endswith("0.50x")
    p95 = next(line for line in lines if line.startswith("retrieval p95"))
    assert "<= 25.0" in p95 and " yes " in p95 and p95.endswith("0.50x")
    size = next(line for line in lines if line.startswith("index size on disk"))
    assert size.split()[-1] == "-"  # no baseline figure, no ratio
    # Without a baseline the last columns stay empty; unmeasured figures are left out.
    alone = bench.format_table({"retrieval_p95_ms": 30.0})
    assert alone.splitlines()[-1].split()[-1] == "NO"
    assert "ingest" not in alone


def test_ratios_are_ours_over_the_baseline() -> None:
    assert bench.ratios({"a": 2.0, "b": None, "c": 1.0}, {"a": 4.0, "b": 1.0, "c": 0}) == {"a": 0.5}


# --- the whole run ---------------------------------------------------------------------------
def test_whole_bench_on_a_tiny_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    out = tmp_path / "bench-tiny.json"
    report = bench.run_bench(
        size="40",
        shared=None,
        work=tmp_path / "work",
        json_out=out,
        baseline=True,
        n_queries=12,
        sources=tiny_sources(10),
        held_out=2,
        pilot_n=3,
        min_others=2,
        cold_runs=1,
        new_langs=("fa",),
        isolate=False,  # one serving process for every leg and filter: saves 7 process starts
    )
    # About 40 s on an idle 2-core machine (a dozen process starts); not asserted, as a
    # loaded machine doubles it.
    print(f"tiny bench: {time.perf_counter() - started:.0f} s")
    data = json.loads(out.read_text("utf-8"))
    assert data == json.loads(json.dumps(report, ensure_ascii=False))
    assert data["errors"] == {}
    assert set(data["corpus"]["pilot"]) == {"ar", "fa", "en", "all"}
    assert data["machine"]["cpu_count"] and data["machine"]["versions"]["chromadb"]
    # Every headline figure was measured, for Manba...
    for name, value in data["manba_headline"].items():
        assert value is not None, name
    ingest = data["manba"]["ingest"]
    assert ingest["docs"] == sum(data["corpus"]["articles"].values())
    assert set(ingest["by_lang"]) == {"ar", "fa", "en"}
    assert ingest["stages"] and all(v >= 0 for v in ingest["stages"].values())
    assert data["manba"]["index_size"]["parts_mb"]["manba.sqlite3"] > 0
    serve = data["manba"]["serve"]
    for leg in ("retrieval", "answer"):
        assert set(serve[leg]) == {"none", "lang", "source", "date"}
        assert all(v["n"] > 0 for v in serve[leg].values())
    assert serve["filters"]["source"] == "Radio Tiny"
    assert data["manba"]["new_article"]["all_found"]
    assert set(data["targets"]) == set(bench.TARGETS)
    # ... and for the baseline, with the ratios.
    for name in ("ingest_chunks_per_s", "index_mb", "cold_start_s", "retrieval_p95_ms"):
        assert data["baseline_headline"][name] is not None, name
        assert data["ratios_to_baseline"][name] > 0
    assert "bm25" in data["baseline"]["ingest"]["stages"]
    printed = capsys.readouterr().out
    assert "retrieval p95 (ms)" in printed and "Manba/baseline" in printed
    assert f"figures written to {out}" in printed
