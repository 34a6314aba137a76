# The two commands of the README: `make serve` and `make test`. Each does all the set-up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-runtime
TEST_STAMP := $(VENV)/.installed-test
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: serve test test-js install install-test browser proxy lint bench lock clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "MindSync needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	$(PIP) install --quiet -r requirements.lock
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	@touch $@

$(TEST_STAMP): $(STAMP) requirements-test.lock
	$(PIP) install --quiet -r requirements-test.lock -c requirements.lock
	@touch $@

# The browser tests drive Debian's Chromium. Installed when we may (root, or sudo without a
# password); elsewhere those tests skip and say why.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the browser tests"; \
		(apt-get install -y -qq chromium >/dev/null 2>&1 || \
		 (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) || \
		echo "could not install chromium: the browser tests will skip"; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
		sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is not installed and cannot be installed here: browser tests will skip"; fi

# The end-to-end proxy tests run Debian's nginx (deploy/nginx.conf); installed like chromium.
proxy:
	@if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's nginx-light for the proxy tests"; \
		(apt-get install -y -qq nginx-light >/dev/null 2>&1 || \
		 (apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null)) || \
		echo "could not install nginx: the proxy tests will skip"; \
	else echo "nginx is not installed and cannot be installed here: proxy tests will skip"; fi

install: $(STAMP)

install-test: $(TEST_STAMP)

## serve: set up, apply migrations and serve on http://127.0.0.1:8000 (SQLite at data/mindsync.db)
serve: $(STAMP)
	$(BIN)/mindsync serve

## test: set up, lint, type-check (mypy strict), and run the whole test suite (Python, then the JavaScript client's)
test: $(TEST_STAMP) browser proxy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-js

## test-js: the JavaScript client's tests (Node's test runner) against a real `mindsync serve`.
# They start their own servers on SQLite, so the PostgreSQL pass of .ci/run does not repeat them.
# Node 20 needs --experimental-websocket for the global WebSocket; Node 22 has it.
test-js: $(TEST_STAMP)
	@if [ -n "$$MINDSYNC_TEST_DATABASE_URL" ]; then \
		echo "== JavaScript client tests: run in the SQLite pass only (they start their own SQLite servers)"; \
	elif ! command -v node >/dev/null 2>&1; then \
		echo "== JavaScript client tests SKIPPED: node is not installed (Node.js 20 or newer runs them)"; \
	elif ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then \
		echo "== JavaScript client tests SKIPPED: node $$(node --version) is older than 20"; \
	else \
		echo "== JavaScript client tests (node $$(node --version))"; \
		node $$(node -e 'process.stdout.write(typeof WebSocket === "undefined" ? "--experimental-websocket" : "")') \
			--test --test-concurrency=2 --test-reporter=spec clients/js/test/*.test.js; \
	fi

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## lock: re-pin every dependency after a change to pyproject.toml (needs the registry)
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet --disable-pip-version-check .
	.lockenv/bin/pip install --quiet --disable-pip-version-check "setuptools>=77" wheel
	.lockenv/bin/pip freeze --all --exclude mindsync --exclude pip > .lockenv/runtime.txt
	.lockenv/bin/pip install --quiet --disable-pip-version-check ".[test]" -c .lockenv/runtime.txt
	.lockenv/bin/pip freeze --all --exclude mindsync --exclude pip \
		| grep -vxFf .lockenv/runtime.txt > requirements-test.lock || true
	sed -E 's/^(uvloop==.*)$$/\1 ; sys_platform != "win32"/' .lockenv/runtime.txt > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

## bench: the benchmark harness (writes bench/results/latest.json and latest.md)
bench: $(TEST_STAMP)
	$(BIN)/python bench/run.py
