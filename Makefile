# Atrium: the two everyday commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: install run test bench migrate seed clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs the system packages the database drivers build against, then the pinned
# Python packages; re-runs only when requirements.txt changes.
$(VENV)/.installed: requirements.txt scripts/install-system-deps | $(BIN)/python
	scripts/install-system-deps
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# Web + Celery worker + beat on the embedded default (SQLite file, filesystem broker).
run: seed
	@echo
	@echo "Atrium is starting at http://127.0.0.1:$(PORT)/  (admin: http://127.0.0.1:$(PORT)/admin/)"
	@echo
	PORT=$(PORT) $(BIN)/honcho -f Procfile.dev start

# The whole suite once per backend in TEST_BACKENDS (default: sqlite, plus mysql and
# postgres when their local servers answer).
test: install
	$(BIN)/python scripts/test_backends.py

# Tenant-scope overhead against an unscoped baseline (bench/tenant_scope.py); set
# DATABASE_URL to measure on MariaDB or PostgreSQL.
bench: install
	$(BIN)/python bench/tenant_scope.py

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
