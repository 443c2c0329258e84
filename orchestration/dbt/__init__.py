"""The dbt project as Dagster and the CLI see it: project handle, runner, assets."""
