# Manba: `make run` serves the app on http://localhost:8501; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX ?= index
SAMPLES := data/samples
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run install install-dev index check lint typecheck pytest test eval bench clean

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
	$(BIN)/streamlit run app.py

lint: install-dev
	$(BIN)/ruff check rag app.py tests
	$(BIN)/ruff format --check rag app.py tests

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/pytest

# The checks alone, no install: what CI runs under ../shared/tools/netguard.
check:
	$(BIN)/ruff check rag app.py tests
	$(BIN)/ruff format --check rag app.py tests
	$(BIN)/mypy
	$(BIN)/pytest

test: install-dev check

# Retrieval on the shared dev sets (needs ../shared/data); figures in reports/.
SHARED ?= ../shared/data
eval: install
	mkdir -p reports
	$(BIN)/manba eval --corpus $(SHARED)/dev/xquad/corpus.ar.jsonl --qa $(SHARED)/dev/xquad/qa.ar-ar.jsonl --mode all --baseline --json reports/eval-xquad-ar-ar.json
	$(BIN)/manba eval --corpus $(SHARED)/dev/xquad/corpus.en.jsonl --qa $(SHARED)/dev/xquad/qa.en-en.jsonl --mode all --baseline --json reports/eval-xquad-en-en.json
	$(BIN)/manba eval --corpus $(SHARED)/dev/parsinlu_rc/corpus.fa.jsonl --qa $(SHARED)/dev/parsinlu_rc/qa.fa-fa.dev.jsonl --mode all --baseline --json reports/eval-parsinlu-fa-fa.json

clean:
	rm -rf $(VENV) $(INDEX)/* .pytest_cache .mypy_cache .ruff_cache
