# Developer entry points. `make test` and `make demo` first make sure a Docker Engine
# answers and the package is installed (scripts/bootstrap.sh); a dockerd started that
# way keeps running until `make engine-stop`.

PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: all bootstrap demo test lint engine-stop

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
