# Two commands for a fresh machine: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV := .venv
SECANTUS_VENV := .venv-secantus
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SECANTUS_STAMP := $(SECANTUS_VENV)/.installed

.PHONY: install run test test-unit test-integration test-e2e lint bench bench-classifier bench-broker asyncapi clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==25.3"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# SecantusDB (GPL-2.0) lives in its own environment: the project talks to it only over the wire.
$(SECANTUS_STAMP): deploy/embedded/secantus-constraints.txt
	$(PYTHON) -m venv $(SECANTUS_VENV)
	$(SECANTUS_VENV)/bin/pip install --quiet -c deploy/embedded/secantus-constraints.txt "secantusdb==0.7.0b3"
	touch $(SECANTUS_STAMP)

install: $(STAMP) $(SECANTUS_STAMP)

run: install
	$(BIN)/cityline up

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q tests

test-unit: install
	$(BIN)/pytest -q tests/unit

test-integration: install
	$(BIN)/pytest -q tests/integration

test-e2e: install
	$(BIN)/pytest -q tests/e2e

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/cityline bench -n 20000

# The classifier's decision alone, on one core (no stack needed).
bench-classifier: install
	$(BIN)/python -m benchmarks.classifier --appeals 50000

# The embedded broker, durable (s3:// on the embedded object store) against memory, in one run.
bench-broker: install
	$(BIN)/python -m benchmarks.broker_storage --messages 20000

asyncapi: install
	$(BIN)/cityline asyncapi --out docs/asyncapi

clean:
	rm -rf $(VENV) $(SECANTUS_VENV) .run
