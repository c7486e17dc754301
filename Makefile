# chatons-panel — `make run` serves the demo, `make test` runs the whole suite.
# Both create .venv on first use and honour every PANEL_* variable from the environment.

VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
export FLASK_APP := wsgi
# Python keeps compiled modules (and pytest its rewritten test modules) even where the
# environment says not to: without them every process of the suite (gunicorn workers, the
# worker, each pytest worker collecting 1,500 tests) compiled them again, 9 s of CPU per
# collection. __pycache__ is ignored by git.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test lint audit pytest translations catalogs clean

# uv installs the pinned set in a third of pip's time (13 s instead of 42 s on a fresh machine,
# where CI starts each run), compiled as pip leaves it; pip brings uv itself, at the version
# constraints.txt names, and installs the set itself if uv cannot (uv reads neither pip.conf's
# mirrors nor its CA file).
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt uv
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -c constraints.txt -e '.[test]' \
		|| $(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# Compiled catalogs are build products (.mo files are not in git).
translations: $(VENV)/.installed
	$(PY) tools/i18n.py compile

# With PANEL_LDAP_URL set the panel signs people in against that directory; the demo
# people's files only exist with the demo directory.
# The web server and the worker are one demo: they share instance/secret_key (made on first
# start), and links in mail lead to the port the demo listens on. Without PANEL_SMTP_URL,
# mail is printed to the terminal and kept in instance/mail/ as .eml files.
PORT ?= 5000
run: export PANEL_BASE_URL ?= http://127.0.0.1:$(PORT)
run: translations
	$(VENV)/bin/flask db upgrade
	@if [ "$$PANEL_ENV" != "production" ]; then $(VENV)/bin/flask terms seed-demo; fi
	@if [ -z "$$PANEL_LDAP_URL" ]; then $(VENV)/bin/flask export demo-files; fi
	@# The task worker runs deletion steps next to the web server; it stops with it.
	$(VENV)/bin/flask worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
		$(VENV)/bin/flask run --host 127.0.0.1 --port $(PORT)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy app
	$(VENV)/bin/bandit -q -r app -ll

# Known vulnerabilities in the pinned dependencies (needs pypi.org; not run by CI, see docs).
audit: $(VENV)/.installed
	$(VENV)/bin/pip-audit -r constraints.txt --strict

# The suite on SQLite, then again on PostgreSQL when PANEL_TEST_DATABASE_URL is set
# (PANEL_TEST_ENGINE=sqlite keeps the first pass off PostgreSQL, see tests/conftest.py).
# The second pass runs the tests that take the pass's database; the others (connectors,
# directories, parsers, the migration testers that use both engines each time) would give
# the same answer twice (PANEL_TEST_ENGINE_PASS_ONLY, see tests/conftest.py).
# Both passes run on PYTEST_WORKERS pytest-xdist workers, a file per worker at a time: each
# worker has its own servers, ports, temporary folders and PostgreSQL database. The tests
# mostly wait on servers and browsers, so a worker more than the cores keeps them busy
# (PYTEST_WORKERS=auto: one per core; PYTEST_ARGS= runs everything in one process).
PYTEST_WORKERS ?= 3
PYTEST_ARGS ?= -n $(PYTEST_WORKERS) --dist loadfile
pytest: translations
	PANEL_TEST_ENGINE=sqlite $(VENV)/bin/pytest $(PYTEST_ARGS)
	@if [ -n "$$PANEL_TEST_DATABASE_URL" ]; then \
		echo "== the same suite on PostgreSQL =="; \
		PANEL_TEST_ENGINE_PASS_ONLY=true $(VENV)/bin/pytest -p no:cacheprovider $(PYTEST_ARGS); \
	fi

# Lint runs beside the tests (mypy and bandit are about 17 s of one core, 3 % of the run)
# and tells after them; either failing fails `make test`.
test: translations
	@$(MAKE) --no-print-directory lint > $(VENV)/lint.log 2>&1 & lint=$$!; \
		$(MAKE) --no-print-directory pytest; tests=$$?; \
		wait $$lint; linted=$$?; echo "== lint =="; cat $(VENV)/lint.log; \
		[ $$tests -eq 0 ] && [ $$linted -eq 0 ]

# Developers: after changing user-facing strings.
catalogs: $(VENV)/.installed
	$(PY) tools/i18n.py update
	$(PY) tools/i18n.py missing

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
