"""The dbt project built on the session warehouse: every staging model builds, every test
passes, and staging does what the style guide says it does."""

from __future__ import annotations

from orchestration.lib.raw_tables import raw_tables


def test_dbt_build_succeeds_with_every_model_and_test(dbt_build):
    assert dbt_build.success, dbt_build.failures
    n_tables = sum(len(t) for t in raw_tables().values())
    assert dbt_build.count("model", "success") >= n_tables  # one staging model per raw table
    assert dbt_build.count("test", "fail", "error") == 0
    assert dbt_build.count("test", "pass") >= 2 * n_tables  # unique + not_null on every primary key


def test_one_staging_model_per_raw_table(dbt_build, sql):
    models = {r[0] for r in sql("select table_name from information_schema.tables where table_schema = 'staging'")}
    for source, tables in raw_tables().items():
        names = [m for m in models if m.startswith(f"stg_{source}__")]
        assert len(names) == len(tables), (source, names)


def test_soft_deleted_rows_are_not_in_staging(dbt_build, sql):
    deleted = sql("select id from shopify.customer where _fivetran_deleted")
    assert deleted, "the session warehouse has soft-deleted customers"
    ids = ", ".join(str(r[0]) for r in deleted)
    assert sql(f"select count(*) from staging.stg_shopify__customers where customer_id in ({ids})")[0][0] == 0
    for table, model in (("contact", "stg_salesforce__contacts"), ("lead", "stg_salesforce__leads")):
        gone = sql(f"select count(distinct id) from salesforce.{table} where is_deleted and _fivetran_active")[0][0]
        staged = sql(f"select count(*) from staging.{model}")[0][0]
        live = sql(f"select count(distinct id) from salesforce.{table} where _fivetran_active")[0][0]
        assert gone > 0 and staged == live - gone, table


def test_history_mode_keeps_the_current_version(dbt_build, sql):
    mismatched = sql("""
        select count(*) from staging.stg_stripe__subscriptions s
        join stripe.subscription_history h on h.id = s.subscription_id and h._fivetran_active
        where h.status != s.status""")[0][0]
    assert mismatched == 0
    assert sql("select count(*) from staging.stg_stripe__subscriptions")[0][0] == \
        sql("select count(distinct id) from stripe.subscription_history")[0][0]


def test_segment_messages_delivered_twice_count_once(dbt_build, sql):
    # Segment's warehouse dedupes on id, but not always: staging must dedupe too.
    rows = sql("select count(*), count(distinct id) from segment.tracks")[0]
    assert sql("select count(*) from staging.stg_segment__tracks")[0][0] == rows[1]


def test_stripe_amounts_are_in_currency_units(dbt_build, sql):
    raw, staged = sql("""select i.amount_due, s.amount_due from stripe.invoice i
                         join staging.stg_stripe__invoices s on s.invoice_id = i.id limit 1""")[0]
    assert float(staged) * 100 == raw


def _manifest(dbt_build_target) -> dict:
    """The manifest of the session's own build (conftest's dbt_build), not whatever manifest
    the worker's dbt target folder holds: another test may not have written one yet (this
    file run alone), or an earlier session may have left one of older code."""
    import json

    return json.loads((dbt_build_target / "manifest.json").read_text())


def test_every_model_seed_and_snapshot_has_a_tested_key_and_a_description(dbt_build, dbt_build_target):
    """The style guide's first layer of tests, enforced: each model, seed and snapshot has a
    primary key tested unique (dbt's `unique` with `not_null` on the same column; for a
    composite key unique_combination_of_columns, or a model-level `unique` over an expression
    joining the key's columns) and says what a row is."""
    assert dbt_build.success, dbt_build.failures
    manifest = _manifest(dbt_build_target)
    keyed: dict[str, set[str]] = {}
    for test in manifest["nodes"].values():
        meta = test.get("test_metadata") or {}
        if test["resource_type"] != "test" or not test.get("attached_node"):
            continue
        column = test.get("column_name") or ""
        if meta.get("name") == "unique" and not column:
            # a model-level unique over an expression of the key's columns (a || '|' || b)
            keyed.setdefault(test["attached_node"], set()).add("combination")
        elif meta.get("name") in ("unique", "not_null"):
            keyed.setdefault(test["attached_node"], set()).add(f"{meta['name']}:{column}")
        elif meta.get("name") == "unique_combination_of_columns":
            keyed.setdefault(test["attached_node"], set()).add("combination")
    def has_key_test(unique_id: str) -> bool:
        tests = keyed.get(unique_id, set())
        unique_columns = {t.split(":", 1)[1] for t in tests if t.startswith("unique:")}
        return "combination" in tests or any(f"not_null:{c}" in tests for c in unique_columns)

    by_name = {n["name"]: uid for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    missing, undescribed = [], []
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] not in ("model", "seed", "snapshot") or node["package_name"] != "cdp":
            continue
        # A view that is one row per row of a table may say so (meta key_tested_on: the table):
        # testing its key would compute the view again for what the table's test shows.
        base = (node["config"].get("meta") or {}).get("key_tested_on")
        if base and node["config"]["materialized"] == "view" and has_key_test(by_name.get(base, "")):
            pass
        elif not has_key_test(unique_id):
            missing.append(f"{node['original_file_path']} ({node['name']})")
        if not (node.get("description") or "").strip():
            undescribed.append(node["name"])
    assert not missing, "no primary-key test (unique + not_null, or unique_combination_of_columns):\n" + \
        "\n".join(sorted(missing))
    assert not undescribed, f"no description: {sorted(undescribed)}"


def test_every_mart_has_an_enforced_contract_and_documented_columns(dbt_build, dbt_build_target):
    """Published marts (models/marts) are what BI tools and syncs read: their columns and
    types are a contract, and each column says what it holds."""
    assert dbt_build.success, dbt_build.failures
    problems = []
    for node in _manifest(dbt_build_target)["nodes"].values():
        if node["resource_type"] != "model" or not node["original_file_path"].startswith("models/marts/"):
            continue
        if not node["config"].get("contract", {}).get("enforced"):
            problems.append(f"{node['name']}: contract not enforced")
        undocumented = [c for c, column in node["columns"].items() if not (column.get("description") or "").strip()]
        if undocumented:
            problems.append(f"{node['name']}: columns without a description: {undocumented}")
    assert not problems, "\n".join(problems)
