"""Reusable code shared by the simulator, the loaders, the Dagster assets and the CLI."""
