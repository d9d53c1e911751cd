# tefed — the two commands of the README are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint format bench federation docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## install: create .venv (if missing) and install tefed with its test tools
install: $(STAMP)

## run: run the default scenario end to end and print its KPI table
run: install
	$(BIN)/tefed run scenarios/default.yaml

## test: lint, check the layers and run the whole test suite (real HELICS, real OpenDSS), on
## as many test processes as the machine has cores
test: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n auto --dist worksteal

## lint / format
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .

## bench: run the benchmarks; figures go to results/bench/
bench: install
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
