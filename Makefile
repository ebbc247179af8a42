# The README's commands. Everything they need is installed here, into .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SAMPLE := build/sample
REPORT := build/report

.PHONY: report attribute test test-spark lint docs docs-figures bench bench-large bench-checks profile calibrate studies lab browser java clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

$(SAMPLE)/truth.json: attrkit/simulate/sample.py $(VENV)/.installed
	$(BIN)/attrkit sample --out $(SAMPLE)

## report: install, run the main report notebook on the bundled sample; prints the HTML's path
report: $(VENV)/.installed
	$(BIN)/attrkit report attribution_report --out $(REPORT)

## attribute: the S3 report CSV and health summary for the sample, without the notebook
attribute: $(VENV)/.installed $(SAMPLE)/truth.json
	$(BIN)/attrkit attribute \
	  --interactions $(SAMPLE)/interactions.csv --items $(SAMPLE)/items.csv \
	  --recommendations $(SAMPLE)/recommendations.csv \
	  --metric-attribution $(SAMPLE)/metric_attribution.json --out build/attribution/

## lab: JupyterLab on notebooks/ with the project's kernel; prints the URL (LAB_PORT, LAB_IP to change)
LAB_PORT ?= 8888
LAB_IP   ?=
$(VENV)/.installed-lab: pyproject.toml $(VENV)/.installed
	$(BIN)/python -c "import jupyterlab" 2>/dev/null || $(BIN)/python -m pip install -q -e '.[lab]'
	touch $@

lab: $(VENV)/.installed-lab
	$(BIN)/attrkit lab notebooks --port $(LAB_PORT) $(if $(LAB_IP),--ip $(LAB_IP))

## browser: Debian's chromium, for the tests that open rendered reports
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## java: Debian's headless Java runtime, for the tests that run Apache Spark in local mode
java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "installing Debian's headless Java runtime for the Spark tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless; }

## test: install with the dev extras, lint, run the suite and the report templates' cells, the
## Spark engine's main tests among them (two workers, TEST_WORKERS=N to change; the slowest ten
## tests listed at the end); its longer Spark runs are make test-spark's
TEST_WORKERS ?= 2
test: $(VENV)/.installed-dev browser java $(VENV)/spark-classes.jsa
	$(BIN)/ruff check attrkit tests bench
	$(BIN)/python -m pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist loadscope \
	  -m "not slow and not spark_matrix" --durations=10 --nbval-lax --nbval-current-env

## test-spark: the Spark engine's longer runs (random and edge-case parity with the embedded
## engine, a local cluster with a small driver, Spark Connect, the docs' Spark example); CI runs
## it after make test
test-spark: $(VENV)/.installed-dev java $(VENV)/spark-classes.jsa
	$(BIN)/python -m pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist loadscope \
	  -m spark_matrix --durations=10

# The classes a Spark attribution loads, archived once per install: the tests' JVMs start from it
# (tests/jvm.py; about half a session's start). Without it they start as usual.
$(VENV)/spark-classes.jsa: $(VENV)/.installed-dev | java
	@echo "archiving the classes of a Spark session for the tests' JVMs (once per install)"
	@$(BIN)/python tests/jvm.py || echo "no class-data archive: the Spark tests start without it"

## studies: the simulation studies that check error rates and coverage (A/A calibration, CUPED, segments, holdout, heavy tails; marked slow, outside make test; about 3 minutes on two cores)
studies: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -p no:cacheprovider -n $(TEST_WORKERS) -m slow --durations=10

## docs: the documentation site, built offline with --strict into build/site/ (open build/site/index.html)
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	@echo "documentation: build/site/index.html"

## docs-figures: the site's figures from the project (the sample report's screenshots, the calibration plot, the data flow)
docs-figures: $(VENV)/.installed-dev browser
	$(BIN)/python docs/figures.py

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check attrkit tests bench

clean:
	rm -rf build $(VENV) .pytest_cache .ruff_cache .hypothesis

## calibrate: the full simulation study (A/A false positives, monitoring, coverage; the small-arm/heavy-tail grid; about 30 minutes on 2 cores)
calibrate: $(VENV)/.installed
	$(BIN)/python -m attrkit.simulate.calibration 400
	$(BIN)/python -m attrkit.simulate.tails 200

## bench: attrkit vs DuckDB vs pandas on 10 million events (EVENTS=N to change); bench/out/results.json
EVENTS ?= 10000000
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py --events $(EVENTS)

## bench-large: attrkit and DuckDB on 50 and 200 million events, Parquet; 5 million users on Spark with a 16 MB driver result limit; 10 million users and 50 million events on the embedded engine (about 40 minutes, 30 GB of disk)
bench-large: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py --events 50000000 --formats parquet --methods attrkit-api,attrkit-cli,duckdb,duckdb-checked,polars --out bench/out/50m
	$(BIN)/python bench/run.py --events 200000000 --formats parquet --methods attrkit-api,duckdb --out bench/out/200m
	$(BIN)/python -P bench/many_users.py --users 5000000 --max-result-size 16m --out bench/out/users
	$(BIN)/python -P bench/many_users.py --engine polars --users 10000000 --lists 6 --click-rate 0.83 --out bench/out/users-embedded

## bench-checks: what two of attrkit's checks cost alone on DuckDB and PySpark (after make bench)
bench-checks: $(VENV)/.installed-dev
	$(BIN)/python bench/checks_cost.py --events $(EVENTS)

## profile: where attribution's time goes, one step of the plan at a time (after make bench)
profile: $(VENV)/.installed-dev
	$(BIN)/python bench/profile.py --events $(EVENTS)
