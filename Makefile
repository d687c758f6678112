# Prior authorization command center. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1:8000

.DEFAULT_GOAL := help
.PHONY: help install system-check run web worker serve cluster deploy migrate seed test test-fast e2e lint fmt bench clean
NODE_STAMP := node_modules/.npm-ci.stamp

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# The Node test peers (Medplum's FHIR engine, Prism for Twilio): `npm ci` again only when the lock file changed.
$(NODE_STAMP): package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "missing: Node.js 20 with npm (Debian: apt-get install -y nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP) ## create the virtualenv, install pinned requirements and the Node test peers

# System packages the tests use and pip/npm cannot install: one line naming what to install, before any test runs.
system-check:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || [ -x "$${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then echo "missing system packages; install them with: sudo apt-get install -y$$missing"; exit 1; fi

migrate: $(STAMP) ## apply database migrations
	$(PY) manage.py migrate --noinput

seed: migrate ## load the demo practice (idempotent)
	$(PY) manage.py seed_demo --base-url http://$(HOST)

# Payers' notifications come back to the address the app is served on (unless PUBLIC_BASE_URL says otherwise).
run web worker: export PUBLIC_BASE_URL ?= http://$(HOST)
# The demo is the one place the built-in sandbox EHR, payer and clearinghouse are on (README "Sandbox").
run seed web worker: export SANDBOX_ENABLED ?= 1

run: seed ## set up and run the app (web + django-q2 cluster) on the embedded default
	@echo "Open http://$(HOST)/ — demo logins are printed above."
	@# The cluster starts a few seconds after the web server: the demo's first jobs call the built-in sandboxes.
	(sleep 4; exec $(PY) manage.py qcluster) & QPID=$$!; \
	trap 'kill $$QPID 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver --insecure $(HOST)

web: migrate ## run only the web server
	$(PY) manage.py runserver --insecure $(HOST)

worker: migrate ## run only the django-q2 cluster
	$(PY) manage.py qcluster

# Production (README "Deploy"): settings come from the environment (PRODUCTION=1, DATABASE_URL, REDIS_URL, ...).
WEB_WORKERS ?= 3
deploy: $(STAMP) ## once per release, from one machine: apply migrations and collect hashed static files
	$(PY) manage.py migrate --noinput
	STATIC_MANIFEST=1 $(PY) manage.py collectstatic --noinput --verbosity 0

serve: $(STAMP) ## production web process: gunicorn + whitenoise (run `make deploy` first)
	STATIC_MANIFEST=1 $(PY) manage.py collectstatic --noinput --verbosity 0
	STATIC_MANIFEST=1 exec $(VENV)/bin/gunicorn priorauth.wsgi --bind $(HOST) --workers $(WEB_WORKERS) \
	  --timeout 60 --graceful-timeout 10 --log-level warning --forwarded-allow-ips "$${FORWARDED_ALLOW_IPS:-127.0.0.1}"

# The supervisor (docs/reliability.md) runs qcluster and restarts it when its heartbeat goes stale.
cluster: $(STAMP) ## production django-q2 cluster under its supervisor (one per worker machine); SIGTERM stops it within 10 s
	exec $(PY) manage.py qsupervise

# The suite in two runs: everything but the fault tests spread over TEST_WORKERS processes (pytest-xdist, a
# database each), then the fault tests alone (tests/faults: a real cluster each, killed on a clock: they share
# the machine with nothing else). PYTEST_ARGS runs exactly what it names instead.
TEST_WORKERS ?= 3
test: system-check $(STAMP) $(NODE_STAMP) ## install and run the test suite (PostgreSQL when DATABASE_URL points there)
ifeq ($(strip $(PYTEST_ARGS)),)
	$(PY) -m pytest -p no:cacheprovider -n $(TEST_WORKERS) -m "not faults"
	$(PY) -m pytest -p no:cacheprovider -m faults
else
	$(PY) -m pytest $(PYTEST_ARGS)
endif

lint: $(STAMP) ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(STAMP) ## format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP) ## run the benchmarks in bench/ (needs DATABASE_URL to PostgreSQL)
	@for f in bench/*.py; do [ -f "$$f" ] && $(PY) $$f || true; done

clean: ## remove the virtualenv and local database
	rm -rf $(VENV) db.sqlite3 media staticfiles node_modules
