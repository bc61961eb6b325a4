# Every target bootstraps its own virtual environment in .venv (Python 3.10+ as $(PYTHON)).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
AGENTS := tests/agents_server
AGENTS_STAMP := $(AGENTS)/node_modules/.installed
DEMO_PROMPT ?= In two sentences, what is Cloudflare Workers AI?
LOCAL_PORT ?= 8799

.PHONY: help install test unit integration lint format type check demo demo-local cassettes bench soak clean

help:
	@echo "make demo        a LangChain chain and a LlamaIndex query against the live playground"
	@echo "make demo-local  the same demo against the local reference server (no internet needed)"
	@echo "make test        install everything into $(VENV) and run the whole suite"
	@echo "make lint        ruff;  make type: mypy --strict;  make check: both plus tests"
	@echo "make format      ruff format and ruff's safe fixes, in place"
	@echo "make cassettes   re-record the VCR cassettes (see tests/cassettes/README.md)"
	@echo "make bench       the benchmarks: ratios against bare aiohttp, the frameworks and g4f"
	@echo "make soak        the soak at full size (make test runs it reduced)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e ".[all]" --group test --group lint
	@touch $@

# The real Agents SDK server the WebSocket tests run in wrangler dev (needs Node 20 and npm).
$(AGENTS_STAMP): $(AGENTS)/package.json $(AGENTS)/package-lock.json
	cd $(AGENTS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(STAMP) $(AGENTS_STAMP)

test: $(STAMP) $(AGENTS_STAMP)
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit_tests

integration: $(STAMP) $(AGENTS_STAMP)
	$(PY) -m pytest tests/integration_tests

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

type: $(STAMP)
	$(VENV)/bin/mypy

check: lint type test

# The main job: a LangChain chain, a conversation and a tool call, then a LlamaIndex query engine.
# Against the live site, or $CF_PLAYGROUND_URL when it points at another playground.
demo: $(STAMP)
	$(PY) examples/langchain_chain.py
	$(PY) examples/llama_index_query.py

demo-local: $(STAMP)
	@$(PY) -m tests.reference_server --wire-format data-stream --port $(LOCAL_PORT) & server=$$!; \
	trap 'kill $$server' EXIT; \
	for i in $$(seq 50); do $(PY) -c "import socket; socket.create_connection(('127.0.0.1', $(LOCAL_PORT)), 0.2)" 2>/dev/null && break; sleep 0.1; done; \
	CF_PLAYGROUND_URL=http://127.0.0.1:$(LOCAL_PORT) $(PY) examples/langchain_chain.py; \
	CF_PLAYGROUND_URL=http://127.0.0.1:$(LOCAL_PORT) $(PY) examples/llama_index_query.py

# Every comparison in one run against local servers; prints a table, writes benchmarks/results.json.
# (The g4f comparison installs g4f 6.6.0 into a venv of its own, benchmarks/.g4f-venv.)
bench: $(STAMP) $(AGENTS_STAMP)
	$(PY) -m benchmarks

# The soak at full size: 2,000 sequential and 200 concurrent chats per server, 10% faulted.
soak: $(STAMP) $(AGENTS_STAMP)
	CF_PLAYGROUND_SOAK=full $(PY) -m pytest tests/integration_tests/test_soak.py -p no:cacheprovider -q -s

cassettes: $(STAMP) $(AGENTS_STAMP)
	$(PY) -m tests.record_cassettes

clean:
	rm -rf $(VENV) $(AGENTS)/node_modules $(AGENTS)/.wrangler benchmarks/.g4f-venv .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
