"""Data quality: Great Expectations suites run as Dagster asset checks (blocking on error),
source freshness against the simulation clock, and the row-count history they compare with."""
