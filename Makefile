# tefed — the two commands of the README are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install bytecode run test lint format bench federation docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(MAKE) --no-print-directory bytecode
	touch $(STAMP)

## bytecode: compile tefed's modules once, as pip does for a regular install (an editable one
## does not): where PYTHONDONTWRITEBYTECODE is set, every process of a federation would
## otherwise compile them again (`helics run` of a two-hour federation: 4.2 s -> 3.2 s)
bytecode:
	$(BIN)/python -m compileall -q src benchmarks examples > /dev/null

## install: create .venv (if missing) and install tefed with its test tools
install: $(STAMP)

## run: run the default scenario end to end and print its KPI table
run: install bytecode
	$(BIN)/tefed run scenarios/default.yaml

## test: lint, check the layers and run the whole test suite (real HELICS, real OpenDSS), on
## half again as many test processes as the machine has cores (tests/conftest.py). Python
## writes its bytecode caches (__pycache__, ignored by git) even where PYTHONDONTWRITEBYTECODE
## is set: each of the suite's test and federate processes would compile the same modules again
test: install bytecode
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -n auto --dist worksteal

## lint / format
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .

## bench: run the benchmarks; figures go to results/bench/
bench: install bytecode
	$(BIN)/python -m benchmarks

## federation: rebuild the committed federation file from its scenario
federation: install
	$(BIN)/tefed build scenarios/default.yaml -o federation/default.json

## docs: regenerate the message JSON Schemas, the scenario reference and its JSON Schema in docs/
docs: install
	$(BIN)/python -c "from tefed.contract.messages import message_json_schemas_text as t; print(t(), end='')" > docs/message_schemas.json
	$(BIN)/python -c "from tefed.scenario.reference import scenario_reference_markdown as t; print(t(), end='')" > docs/scenario-reference.md
	$(BIN)/python -c "from tefed.scenario.reference import scenario_json_schema_text as t; print(t(), end='')" > docs/scenario.schema.json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
