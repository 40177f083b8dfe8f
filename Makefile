# Two commands do everything on a fresh machine:
#   make run   - install, migrate, import the demo catalogue, create the admin, serve on :8000
#   make test  - install and run the whole suite (CI runs it through .ci/run)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev demo lint evaluate evaluate-keywords browsers faults soak fuzz-full

$(BIN)/python:
	$(PY) -m venv $(VENV)

# The stamp files make a second `make run` skip the install when the requirements did not change.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py import_kuairec
	$(BIN)/python manage.py rebuild_recommender --if-missing
	$(BIN)/python manage.py ensure_admin

run: demo
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# Debian's Chromium for the browser tests (Playwright's own browser download cannot work offline).
browsers:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get install -y -q chromium chromium-driver >/dev/null; \
		else echo "install Debian's chromium for the browser tests: sudo apt-get install chromium"; fi; }

test: install-dev browsers
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .

evaluate: install
	$(BIN)/python manage.py evaluate --dataset movielens-small --k 10
	$(BIN)/python manage.py evaluate --dataset kuairec --k 10 --min-relevance 1.0

evaluate-keywords: install
	$(BIN)/python manage.py evaluate_keywords --tsv $(or $(TSV),data/csl/kg_dev.tsv) --k 5

# Reliability runs outside `make test` (docs/reliability.md). `faults` stops and restarts Redis/PostgreSQL.
faults: install-dev
	$(BIN)/python bench/faults.py --n $(or $(N),10)

soak: install-dev
	$(BIN)/python bench/soak.py --minutes $(or $(MINUTES),10)

fuzz-full: install-dev
	FUZZ_EXAMPLES=100 $(BIN)/python -m pytest -q tests/security/test_api_fuzz.py
