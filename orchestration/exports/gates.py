"""The quality gate a sync passes before it applies: no dbt test upstream of its source failed.

In Dagster the gate is the graph itself: a dbt step whose error-severity test fails fails,
and the sync assets after it do not run. From the command line (`cdp sync`), this reads
the results of the last `dbt build` or `dbt test` (target/run_results.json) and refuses a
sync whose source model, or any model upstream of it, has a failed or errored test.
"""

from __future__ import annotations

import json
from pathlib import Path

from orchestration import settings


def upstream_test_failures(manifest: dict, model: str, run_results: Path | None = None) -> list[str]:
    """Names of failed tests on `model` or its ancestors in the last dbt build/test."""
    path = run_results or settings.dbt_target_path() / "run_results.json"
    if not path.exists():
        return []
    results = json.loads(path.read_text())
    if results.get("args", {}).get("which") not in ("build", "test"):
        return []
    node_id = next((uid for uid, n in manifest["nodes"].items()
                    if n["resource_type"] == "model" and n["name"] == model), None)
    if node_id is None:
        return []
    upstream, frontier = {node_id}, [node_id]
    parents = manifest.get("parent_map", {})
    while frontier:
        for parent in parents.get(frontier.pop(), []):
            if parent not in upstream:
                upstream.add(parent)
                frontier.append(parent)
    failed = []
    for result in results.get("results", []):
        uid = result.get("unique_id", "")
        if uid.startswith("test.") and result.get("status") in ("fail", "error"):
            tested = manifest["nodes"].get(uid, {}).get("depends_on", {}).get("nodes", [])
            if any(n in upstream for n in tested):
                failed.append(manifest["nodes"].get(uid, {}).get("name", uid))
    return failed
