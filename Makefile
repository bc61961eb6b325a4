# Every target bootstraps its own virtual environment in .venv (Python 3.11+ as $(PYTHON)).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs
AGENTS := tests/agents_server
AGENTS_STAMP := $(AGENTS)/node_modules/.installed
DEMO_PROMPT ?= In two sentences, what is Cloudflare Workers AI?

.PHONY: help install test unit integration flake lint format type check docs demo demo-local cassettes cassettes-live live doctor bench soak clean

help:
	@echo "make demo        a LangChain chain and a LlamaIndex query against the live playground"
	@echo "make demo-local  the same demo against the local reference server (no internet needed)"
	@echo "make test        install everything into $(VENV) and run the whole suite (not the live canary)"
	@echo "make lint        ruff;  make type: mypy --strict;  make check: both plus tests"
	@echo "make format      ruff format and ruff's safe fixes, in place"
	@echo "make docs        build the documentation site into site/ (mkdocs --strict: a broken link fails)"
	@echo "make cassettes   re-record the VCR cassettes (see tests/cassettes/README.md)"
	@echo "make cassettes-live  re-record the WebSocket cassette from the live site (check the diff!)"
	@echo "make live        the live canary against the real site (CF_PLAYGROUND_LIVE=1; never in CI)"
	@echo "make doctor      cf-playground doctor: which layer down to the live site works"
	@echo "make bench       the benchmarks: ratios against bare aiohttp, the frameworks and g4f, and their chart"
	@echo "make soak        the soak at full size (make test runs it reduced)"
	@echo "make flake       the tests that wait on time, sockets or processes, 5 rounds under CPU load"

# The runtime: the package with every extra (what make demo needs).
$(RUNTIME_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e ".[all]"
	@touch $@

# The runtime plus the test and lint tools.
$(STAMP): $(RUNTIME_STAMP)
	$(PY) -m pip install --quiet -e ".[all]" --group test --group lint
	@touch $@

# The documentation site's tools (the docs group), on top of the runtime.
$(DOCS_STAMP): $(RUNTIME_STAMP)
	$(PY) -m pip install --quiet --group docs
	@touch $@

# The real Agents SDK server the WebSocket tests run in wrangler dev (needs Node 20 and npm).
$(AGENTS_STAMP): $(AGENTS)/package.json $(AGENTS)/package-lock.json
	cd $(AGENTS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(STAMP) $(AGENTS_STAMP)

test: $(STAMP) $(AGENTS_STAMP)
	$(PY) -m pytest -q

unit: $(STAMP)
	$(PY) -m pytest tests/unit_tests

integration: $(STAMP) $(AGENTS_STAMP)
	$(PY) -m pytest tests/integration_tests

# The tests that wait on time, sockets or processes, FLAKE_ROUNDS times in a row while every
# core runs a CPU burner of the check's own (stopped after). Run it before stopping when a change
# touches such waits; not part of make test.
FLAKE_ROUNDS ?= 5
flake: $(STAMP) $(AGENTS_STAMP)
	$(PY) -m tests.flake --rounds $(FLAKE_ROUNDS)

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

type: $(STAMP)
	$(VENV)/bin/mypy

check: lint type test

# The site in site/ from docs/ and the docstrings (API reference); --strict turns every warning,
# a broken link or a reference mkdocstrings cannot resolve, into a failure.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# The main job: a LangChain chain, a conversation and a tool call, then a LlamaIndex query engine.
# Against the live site, or $CF_PLAYGROUND_URL when it points at another playground; when the
# live site cannot be reached, it says so and runs against the local playground instead.
demo: $(RUNTIME_STAMP)
	@$(PY) examples/demo.py

# The same demo against the local playground (a free port of its own), with no internet.
demo-local: $(RUNTIME_STAMP)
	@$(PY) examples/demo.py --local

# Every comparison in one run against local servers; prints a table, writes benchmarks/results.json,
# then draws docs/img/benchmarks.svg from it (also when a target was missed: the chart shows it;
# the exit status stays the benchmark's). The g4f comparison installs g4f 6.6.0 into a venv of its
# own, benchmarks/.g4f-venv.
bench: $(STAMP) $(AGENTS_STAMP)
	$(PY) -m benchmarks; status=$$?; $(PY) -m benchmarks.charts && exit $$status

# The soak at full size: 2,000 sequential and 200 concurrent chats per server, 10% faulted.
soak: $(STAMP) $(AGENTS_STAMP)
	CF_PLAYGROUND_SOAK=full $(PY) -m pytest tests/integration_tests/test_soak.py -p no:cacheprovider -q -s

cassettes: $(STAMP) $(AGENTS_STAMP)
	$(PY) -m tests.record_cassettes

# The WebSocket cassette, re-recorded from the live site; tests/cassettes/README.md says how to
# check the diff before committing it.
LIVE_URL ?= https://playground.ai.cloudflare.com
cassettes-live: $(STAMP)
	$(PY) -m tests.record_cassettes --live --base-url $(LIVE_URL) -k websocket

# The live canary: LangChain's standard suite, LlamaIndex's entry points, a tool call and the
# model list against the real site. Only with CF_PLAYGROUND_LIVE=1; a failure prints the doctor.
live: $(STAMP)
	@if [ "$$CF_PLAYGROUND_LIVE" != "1" ]; then \
		echo "live canary skipped: set CF_PLAYGROUND_LIVE=1 to run it against the real site"; \
	else \
		$(PY) -m pytest tests/live_tests -m live -p no:cacheprovider; \
	fi

doctor: $(RUNTIME_STAMP)
	$(VENV)/bin/cf-playground doctor

clean:
	rm -rf $(VENV) site $(AGENTS)/node_modules $(AGENTS)/.wrangler benchmarks/.g4f-venv .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
