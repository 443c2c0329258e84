"""Warehouse-native CDP: the Python side (simulator, loaders, Dagster code, CLI)."""
