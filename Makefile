# Atrium: the two everyday commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: install run test bench migrate seed clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs the system packages the database drivers build against and gettext, then the
# pinned Python packages, then compiles the translations (the .mo files are not committed);
# re-runs only when requirements.txt or a translation changes.
$(VENV)/.installed: requirements.txt scripts/install-system-deps $(wildcard locale/*/LC_MESSAGES/django.po) | $(BIN)/python
	scripts/install-system-deps
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python manage.py compilemessages --ignore=.venv --ignore=.venv-httpbin -v0
	touch $@

install: $(VENV)/.installed

# httpbin, a real HTTP target for the tests of imported third-party testcases, in a
# virtualenv of its own (its greenlet pin conflicts with Playwright's).
HTTPBIN_VENV := .venv-httpbin
$(HTTPBIN_VENV)/.installed: requirements-httpbin.txt
	$(PYTHON) -m venv $(HTTPBIN_VENV)
	$(HTTPBIN_VENV)/bin/python -m pip install --quiet -r requirements-httpbin.txt
	touch $@

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# Web + Celery worker + beat on the embedded default (SQLite file, filesystem broker).
run: seed
	@echo
	@echo "Atrium is starting at http://127.0.0.1:$(PORT)/  (admin: http://127.0.0.1:$(PORT)/admin/)"
	@echo
	PORT=$(PORT) OUTBOUND_ALLOWED_NETWORKS=$${OUTBOUND_ALLOWED_NETWORKS-127.0.0.0/8,::1/128} \
	  $(BIN)/honcho -f Procfile.dev start

# Tools the tests run against the platform's output: the common JUnit schema (read from
# pytest's source distribution), and from npm (tools/package.json) the Allure command line
# (needs a Java runtime), the MCP TypeScript SDK, the MCP Inspector and the Node.js 22 the
# Inspector needs.
TEST_TOOLS := var/test-tools/junit-10.xsd tools/node_modules/.installed
var/test-tools/junit-10.xsd: requirements.txt scripts/fetch_junit_schema.py | $(BIN)/python
	$(BIN)/python scripts/fetch_junit_schema.py

tools/node_modules/.installed: tools/package.json tools/package-lock.json scripts/install-test-tools
	scripts/install-test-tools
	npm ci --prefix tools --no-audit --no-fund --silent
	touch $@

# The whole suite once per backend in TEST_BACKENDS (default: sqlite, plus mysql and
# postgres when their local servers answer).
test: install $(HTTPBIN_VENV)/.installed $(TEST_TOOLS)
	$(BIN)/python scripts/test_backends.py

# Benchmarks, each against a baseline in the same run (bench/*.py); set DATABASE_URL to
# measure on MariaDB or PostgreSQL (the API benchmark's target is MariaDB).
bench: install
	$(BIN)/python bench/tenant_scope.py
	$(BIN)/python bench/api_key_verify.py
	$(BIN)/python bench/api_users.py
	$(BIN)/python bench/log_capture.py
	$(BIN)/python bench/log_range_query.py
	$(BIN)/python bench/mcp_gateway.py
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/sandbox.py
	$(BIN)/python bench/signin.py

clean:
	rm -rf $(VENV) $(HTTPBIN_VENV) var staticfiles .pytest_cache
