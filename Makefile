# Developer entry points. `make test` and `make demo` first make sure a Docker Engine
# answers and the package is installed (scripts/bootstrap.sh); a dockerd started that
# way keeps running until `make engine-stop`.

PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: all bootstrap demo test lint engine-stop docs docs-build docs-deps

all: lint test

bootstrap:
	scripts/bootstrap.sh

# The main job: what a restricted container really gets, next to a plain `docker run`.
demo: bootstrap
	$(PYTHON) -m secure_run.testing >/dev/null
	$(PYTHON) -m secure_run probe secure-run-test/busybox:latest --vs-default

test: bootstrap
	$(PYTHON) -m pytest $(PYTEST_ARGS)

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m mypy --strict secure_run

engine-stop:
	scripts/engine.sh stop

# The security, fault and fuzz batteries on the real engine; writes docs/reliability.md.
.PHONY: reliability
reliability: bootstrap
	PYTHON=$(PYTHON) scripts/reliability $(PYTEST_ARGS)

# The documentation site. `docs` serves it on 127.0.0.1 only and rebuilds on change;
# `docs-build` builds it as CI does: --strict, so a broken link, anchor or docstring
# reference fails. The site goes to a temporary directory (site/ is git-ignored too).
DOCS_ADDR ?= 127.0.0.1:8000
DOCS_SITE ?= $(or $(TMPDIR),/tmp)/secure-run-site
export NO_MKDOCS_2_WARNING := 1

docs-deps:
	@$(PYTHON) -c "import mkdocs, material, mkdocstrings_handlers.python" 2>/dev/null \
		|| $(PYTHON) -m pip install -q -e '.[docs]'

docs: docs-deps
	$(PYTHON) -m mkdocs serve --dev-addr $(DOCS_ADDR)

docs-build: docs-deps
	$(PYTHON) -m mkdocs build --strict --site-dir $(DOCS_SITE)
	@echo "built $(DOCS_SITE)/index.html"

# Every benchmark against the alternatives; writes benchmarks/results/results.json and
# docs/performance.md (BENCH_QUICK=1: a smoke run that leaves the page alone). Fails when a
# start-up figure is more than 20% above benchmarks/results/startup_baseline.json.
.PHONY: bench
bench: bootstrap
	@$(PYTHON) -c "import python_on_whales, testcontainers" 2>/dev/null \
		|| $(PYTHON) -m pip install -q -e '.[bench]'
	$(PYTHON) -m secure_run.testing >/dev/null
	$(PYTHON) benchmarks/run_all.py
