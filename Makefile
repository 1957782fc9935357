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

# A real three-node swarm on this machine (root): 3 dockerd nodes in network namespaces of
# their own, 1 manager and 2 workers, the test image loaded in each. `swarm-up` prints the
# sockets; `eval "$$(scripts/swarm.sh env)"` exports them for tests. `swarm-down` removes
# all it made; the default engine is never touched.
.PHONY: swarm-up swarm-down test-swarm
swarm-up: bootstrap
	PYTHON=$(PYTHON) scripts/swarm.sh up

swarm-down:
	scripts/swarm.sh down

test-swarm:
	eval "$$(scripts/swarm.sh env)" && SECURE_RUN_REQUIRE_SWARM=1 $(PYTHON) -m pytest tests/swarm $(PYTEST_ARGS)

# A Podman engine of the project's own (root): its own config and storage under
# $${SECURE_RUN_PODMAN_DIR:-/tmp/secure-run-podman}, runc, the API service on a socket there,
# the test image loaded. `test-podman` plays each preset's exported Pod with `podman kube
# play` and proves from inside what Podman applied (docs/cluster.md, "Playing the exported Pods on Podman").
.PHONY: podman-up podman-down test-podman
podman-up: bootstrap
	scripts/podman.sh up

podman-down:
	scripts/podman.sh down

test-podman:
	eval "$$(scripts/podman.sh env)" && SECURE_RUN_REQUIRE_PODMAN=1 $(PYTHON) -m pytest tests/kubernetes/test_podman_play.py $(PYTEST_ARGS)

# The integration, security and examples suites on a second dockerd with
# --userns-remap=default (root; scripts/engines/userns.sh): up, the suites with
# DOCKER_HOST at its socket, then down on every path (the suites' status is kept).
USERNS_SUITES ?= tests/integration tests/security tests/examples
.PHONY: test-userns
test-userns: bootstrap
	trap 'scripts/engines.sh down userns' EXIT INT TERM; \
	PYTHON=$(PYTHON) scripts/engines.sh up userns && \
	eval "$$(scripts/engines.sh env userns)" && DOCKER_HOST="$$SECURE_RUN_ENGINE_URL" \
		SECURE_RUN_REQUIRE_DOCKER=1 $(PYTHON) -m pytest $(USERNS_SUITES) $(PYTEST_ARGS)

# The containment battery and the verify proof on a second dockerd whose default runtime
# is gVisor's runsc (root; scripts/engines/gvisor.sh): up, the suites with DOCKER_HOST at
# its socket and SECURE_RUN_TEST_RUNTIME=runsc, then down on every path.
GVISOR_SUITES ?= tests/security tests/integration/test_gvisor.py
.PHONY: test-gvisor
test-gvisor: bootstrap
	trap 'scripts/engines.sh down gvisor' EXIT INT TERM; \
	PYTHON=$(PYTHON) scripts/engines.sh up gvisor && \
	eval "$$(scripts/engines.sh env gvisor)" && DOCKER_HOST="$$SECURE_RUN_ENGINE_URL" \
		SECURE_RUN_TEST_RUNTIME=runsc SECURE_RUN_REQUIRE_DOCKER=1 \
		$(PYTHON) -m pytest $(GVISOR_SUITES) $(PYTEST_ARGS)

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

# The engine matrix (root): the integration, security, examples and docs-demo suites on
# every engine scripts/engines.sh can start (or ENGINES=a,b), each brought up before its
# suites and down after them on every path; writes docs/data/engine-matrix.json and the
# matrix blocks of docs/engine-support.md and docs/reliability.md (scripts/matrix.py).
ENGINES ?=
.PHONY: matrix
matrix: bootstrap
	$(PYTHON) scripts/matrix.py $(if $(ENGINES),--engines $(ENGINES)) $(if $(PYTEST_ARGS),-- $(PYTEST_ARGS))
