"""Benchmark: identity resolution on a simulated warehouse, against the simulator's truth.

    .venv/bin/python benchmarks/identity.py --warehouse PATH [--profiles N --seed S --as-of D]

If the warehouse holds no simulation yet, one is generated first (untimed here; see
benchmarks/generate.py). Then, timed: the Segment calls the identity models read, deduplicated
once (models/intermediate/events, incremental, here built from scratch: its own line), the
identity models (models/intermediate/identity and models/intermediate/devices) built from
scratch, and the identity marts. Then:
- pairwise precision and recall of record -> profile against the truth;
- an in-memory union-find over the same links (networkx connected components), timed, and
  checked to find the same clusters as the SQL connected components.
Prints Markdown for the README and writes the figures as JSON next to the warehouse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

import duckdb
import networkx as nx
from common import simulated_warehouse, threads_option, timed_dbt, warehouse_arguments

from orchestration.identity.evaluation import pairwise_scores

EVENT_MODELS = ["path:models/intermediate/events"]
IDENTITY_MODELS = ["path:models/intermediate/identity", "path:models/intermediate/devices"]
IDENTITY_MARTS = ["path:models/marts/identity"]



def union_find(path: Path) -> dict:
    """networkx connected components over the links the SQL clustered (int_identity_edges)."""
    con = duckdb.connect(str(path))
    started = time.perf_counter()
    edges = con.execute("select node_a, node_b from intermediate.int_identity_edges").fetchall()
    nodes = [r[0] for r in con.execute("select distinct node_id from intermediate.int_identity_cluster_members").fetchall()]
    loaded = time.perf_counter()
    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    components = list(nx.connected_components(graph))
    finished = time.perf_counter()
    sql_clusters = con.execute("""select count(distinct cluster_id) from intermediate.int_identity_cluster_members""").fetchone()[0]
    # Same partition: every networkx component maps to exactly one SQL cluster and back.
    label = dict(con.execute("select node_id, min(cluster_id) from intermediate.int_identity_cluster_members group by 1").fetchall())
    con.close()
    same = all(len({label[n] for n in comp}) == 1 for comp in components) and len(components) == sql_clusters
    return {"edges": len(edges), "nodes": len(nodes), "load_seconds": round(loaded - started, 2),
            "components_seconds": round(finished - loaded, 2), "components": len(components),
            "sql_clusters": sql_clusters, "same_partition": same}


def main() -> None:
    parser = argparse.ArgumentParser()
    warehouse_arguments(parser)
    args = parser.parse_args()
    threads = threads_option(args)
    path, simulation = simulated_warehouse(args)

    timed_dbt(["seed", "--full-refresh"])
    timed_dbt(["run", "-s", "path:models/staging"])
    events_seconds, per_event_model = timed_dbt(["run", "--full-refresh", *threads, "-s", *EVENT_MODELS])
    identity_seconds, per_model = timed_dbt(["run", "--full-refresh", *threads, "-s", *IDENTITY_MODELS])
    marts_seconds, per_mart = timed_dbt(["run", "--full-refresh", *threads, "-s", *IDENTITY_MARTS])

    con = duckdb.connect(str(path))
    scores = pairwise_scores(con)
    profiles = con.execute("select count(distinct profile_id) from intermediate.int_identity_record_profiles").fetchone()[0]
    quarantined = con.execute("select count(*) from marts.identity_quarantine").fetchone()[0]
    conflicts = con.execute("select count(*) from marts.identity_conflicts").fetchone()[0]
    events = con.execute("select count(*), count(profile_id) from marts.profile_events").fetchone()
    con.close()
    uf = union_find(path)
    cc_seconds = per_model.get("int_identity_components_base", 0) + per_model.get("int_identity_clusters", 0) \
        + per_model.get("int_identity_components_constrained", 0)

    figures = {
        "date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "profiles": simulation.profiles, "seed": simulation.seed, "as_of": str(simulation.as_of.date()),
        "dbt_threads": args.threads or "profile default (2)",
        "event_models_seconds": round(events_seconds, 1),
        "identity_models_seconds": round(identity_seconds, 1), "identity_marts_seconds": round(marts_seconds, 1),
        "connected_components_seconds": round(cc_seconds, 1),
        "model_seconds": {k: round(v, 2) for k, v in sorted({**per_event_model, **per_model, **per_mart}.items(), key=lambda kv: -kv[1])},
        "scores": scores.as_dict(), "profiles_built": profiles, "quarantined_values": quarantined,
        "conflicts": conflicts, "events": events[0], "events_with_profile": events[1], "union_find": uf,
    }
    Path(str(path) + ".identity.json").write_text(json.dumps(figures, indent=2))
    ratio = cc_seconds / uf["components_seconds"] if uf["components_seconds"] else float("nan")
    print(json.dumps(figures, indent=2))
    print()
    print(f"Segment calls deduplicated (models/intermediate/events, from scratch; read by the identity "
          f"models and marts): {events_seconds:.1f} s")
    print()
    print("| people | records | profiles | precision | recall | identity models | identity marts "
          "| SQL connected components | networkx (same links) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {simulation.profiles:,} | {scores.records:,} | {profiles:,} | {scores.precision:.4f} | "
          f"{scores.recall:.4f} | {identity_seconds:.1f} s | {marts_seconds:.1f} s | {cc_seconds:.1f} s | "
          f"{uf['components_seconds']:.1f} s (+{uf['load_seconds']:.1f} s to load; SQL/networkx {ratio:.1f}x; "
          f"same partition: {uf['same_partition']}) |")


if __name__ == "__main__":
    main()
