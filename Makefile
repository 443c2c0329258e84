# The two commands a newcomer needs (see README):
#   make demo   set everything up, generate 10,000 people, load them, build, summarise
#   make test   set everything up, lint the SQL, run every test
.PHONY: setup demo test lint pytest dagster screenshots clean

VENV := .venv
STAMP := $(VENV)/.cdp-installed

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml scripts/bootstrap.sh
	@scripts/bootstrap.sh

demo: setup
	$(VENV)/bin/cdp demo

# sqlfluff's dbt templater compiles the project; an in-memory DuckDB is enough for that.
# Its own dbt target path, so that it can run beside the tests' dbt builds (make test).
lint: setup
	DBT_TARGET_PATH=$(CURDIR)/target_lint CDP_DUCKDB_PATH=:memory: $(VENV)/bin/sqlfluff lint models

pytest: setup
	$(VENV)/bin/python -m pytest

# The lint and the tests run side by side (two jobs): CI has two cores and 20 minutes.
test: setup
	$(MAKE) --no-print-directory -j2 lint pytest

# The Dagster UI on http://localhost:3000, with the instance settings in orchestration/dagster_home.
dagster: setup
	DAGSTER_HOME=$(CURDIR)/orchestration/dagster_home $(VENV)/bin/dagster dev

# docs/images/dagster_asset_graph.png: the Dagster UI's asset graph in headless Chromium (docs/dagster_ui.md).
screenshots: setup
	$(VENV)/bin/python scripts/screenshot_dagster.py

clean:
	rm -rf $(VENV) target target_lint logs data .pytest_cache
