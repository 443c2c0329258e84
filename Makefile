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
lint: setup
	CDP_DUCKDB_PATH=:memory: $(VENV)/bin/sqlfluff lint models

pytest: setup
	$(VENV)/bin/python -m pytest

test: lint pytest

# The Dagster UI on http://localhost:3000, with the instance settings in orchestration/dagster_home.
dagster: setup
	DAGSTER_HOME=$(CURDIR)/orchestration/dagster_home $(VENV)/bin/dagster dev

# docs/images/dagster_asset_graph.png: the Dagster UI's asset graph in headless Chromium (docs/dagster_ui.md).
screenshots: setup
	$(VENV)/bin/python scripts/screenshot_dagster.py

clean:
	rm -rf $(VENV) target logs data .pytest_cache
