# The README's commands. Everything they need is installed here, into .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SAMPLE := build/sample
REPORT := build/report

.PHONY: report test lint bench calibrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

$(SAMPLE)/truth.json: attrkit/sample.py $(VENV)/.installed
	$(BIN)/attrkit sample --out $(SAMPLE)

## report: install, generate the sample, attribute it; prints the report path and health summary
report: $(VENV)/.installed $(SAMPLE)/truth.json
	rm -rf $(REPORT)
	$(BIN)/attrkit attribute \
	  --interactions $(SAMPLE)/interactions.csv --items $(SAMPLE)/items.csv \
	  --recommendations $(SAMPLE)/recommendations.csv \
	  --metric-attribution $(SAMPLE)/metric_attribution.json --out $(REPORT)/

## test: install with the dev extras, lint, run the whole suite
test: $(VENV)/.installed-dev
	$(BIN)/ruff check attrkit tests bench
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check attrkit tests bench

clean:
	rm -rf build $(VENV) .pytest_cache .ruff_cache .hypothesis

## calibrate: the full simulation study (A/A false positives, monitoring, coverage)
calibrate: $(VENV)/.installed
	$(BIN)/python -m attrkit.calibration 2000
