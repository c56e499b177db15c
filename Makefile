# Two commands a user needs (see README.md):
#   make serve   install into .venv and start the gateway on 127.0.0.1:4000 (local model, SQLite)
#   make test    install test needs and run the whole suite (lint, types, tests)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
NODE   := $(VENV)/node
NSTAMP := $(NODE)/.installed
# the local OpenID provider the single sign-on test signs in against (tests/support/oidc.py)
OIDC   := tests/support/oidc_provider
OSTAMP := $(OIDC)/node_modules/.installed
# the agent CLIs the acceptance tests drive (tests/e2e/test_agent_clients.py)
AGENT_CLIS := @anthropic-ai/claude-code@2.1.197 @openai/codex@0.171.0
SHELL  := bash

.PHONY: serve test install install-test lint bench clean

$(BIN)/python:
	@echo "unigate: creating $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml scripts/install_local_runtime.sh | $(BIN)/python
	@echo "unigate: installing the gateway and its dependencies into $(VENV)"
	$(BIN)/pip install -q -e .
	bash scripts/install_local_runtime.sh $(BIN)/pip -e '.[local]'
	touch $@

$(TSTAMP): pyproject.toml $(STAMP)
	@echo "unigate: installing the test dependencies"
	$(BIN)/pip install -q -e '.[local,test]'
	@command -v chromium >/dev/null || { echo "unigate: installing Debian's chromium for the dashboard tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v espeak-ng >/dev/null || { echo "unigate: installing Debian's espeak-ng for the audio tests (real speech WAVs)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; }
	touch $@

$(NSTAMP): Makefile
	@if command -v npm >/dev/null; then \
	  echo "unigate: installing Claude Code and Codex into $(NODE) for the agent tests"; \
	  npm install --prefix $(NODE) --no-audit --no-fund --loglevel=error $(AGENT_CLIS) >/dev/null && touch $@; \
	else echo "unigate: npm not found: the Claude Code and Codex tests will be skipped"; fi

$(OSTAMP): $(OIDC)/package-lock.json
	@if command -v npm >/dev/null; then \
	  echo "unigate: installing the local OpenID provider for the single sign-on test"; \
	  npm ci --prefix $(OIDC) --no-audit --no-fund --loglevel=error >/dev/null && touch $@; \
	else echo "unigate: npm not found: the single sign-on test will be skipped"; fi

install: $(STAMP)
install-test: $(TSTAMP) $(OSTAMP)

serve: $(STAMP)
	$(BIN)/unigate serve $(ARGS)

lint: $(TSTAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: lint $(NSTAMP) $(OSTAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	bash benchmarks/run_overhead.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
