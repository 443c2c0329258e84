"""PII masking on Snowflake (macros/governance/masking_policies.sql), without a Snowflake
account: the statements the macros generate for the `snowflake` target, checked against
Snowflake's documented grammar, with the policy bodies parsed by sqlglot's Snowflake
dialect. sqlglot has no grammar for masking-policy DDL (it falls back to an opaque
Command), hence the regular expressions; fakesnow cannot run the DDL at all (the xfail
below), so on the emulator the statements are recorded and skipped
(python_tests/fakesnow_warehouse.py)."""

from __future__ import annotations

import json
import re

import pytest
import sqlglot
from sqlglot import exp

from orchestration import settings
from orchestration.dbt.project import ensure_manifest, environment
from orchestration.lib import pii

FAKE_ACCOUNT = {"SNOWFLAKE_ACCOUNT": "fake", "SNOWFLAKE_USER": "fake", "SNOWFLAKE_PASSWORD": "fake",
                "CDP_TARGET": "snowflake", "SNOWFLAKE_ROLE": "transformer"}
VARS = "{pii_unmasked_roles: [privacy_officer], pii_confidential_roles: [analyst]}"
# Every model with its documented columns (YAML data_type where declared, else varchar) through
# the macro the post-hook calls, after the policies' DDL: one statement a line.
INLINE = """
{%- for s in cdp.masking_policy_ddl() %}{{ s }}
{% endfor -%}
{%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
{%- set columns = [] -%}
{%- for c in node.columns.values() %}{% do columns.append({'name': c.name | upper, 'data_type': c.data_type or 'VARCHAR(16777216)'}) %}{% endfor -%}
{%- set kind = 'view' if node.config.materialized == 'view' else 'table' -%}
{%- for s in cdp.masking_policy_assignments(node.name, kind, columns, cdp.node_classifications(node)) %}{{ s }}
{% endfor -%}
{%- endfor -%}
masking enabled: {{ cdp.pii_masking_enabled() }}
"""
IDENT = r'[A-Za-z_][\w$]*'
NAME = rf'{IDENT}(\.{IDENT}){{0,2}}'
# CREATE / ALTER MASKING POLICY and ALTER TABLE|VIEW ... SET MASKING POLICY, as the Snowflake
# reference writes them (the body is checked separately).
CREATE = re.compile(rf"^create masking policy if not exists (?P<name>{NAME}) as \(val (?P<type>\w+)\) "
                    rf"returns (?P=type) -> (?P<body>.+) comment = '[^']*'$", re.I)
ALTER_BODY = re.compile(rf"^alter masking policy (?P<name>{NAME}) set body -> (?P<body>.+)$", re.I)
ATTACH = re.compile(rf'^alter (?P<kind>table|view) (?P<relation>{NAME}) modify column "(?P<column>[^"]+)" '
                    rf"set masking policy (?P<policy>{NAME}) force$", re.I)


@pytest.fixture(scope="module")
def statements(tmp_path_factory) -> list[str]:
    from dbt.cli.main import dbtRunner

    target_path = tmp_path_factory.mktemp("pii_snowflake") / "target"
    with environment(FAKE_ACCOUNT):
        result = dbtRunner().invoke([
            "compile", "--quiet", "--no-populate-cache", "--target", "snowflake", "--inline", INLINE,
            "--vars", VARS, "--target-path", str(target_path), "--project-dir", str(settings.PROJECT_DIR),
            "--profiles-dir", str(settings.profiles_dir())])
    assert result.success, result.exception
    lines = [line.strip() for line in result.result.results[0].node.compiled_code.splitlines() if line.strip()]
    assert lines[-1] == "masking enabled: True"
    return lines[:-1]


def _body_is_snowflake_sql(body: str) -> exp.Expression:
    tree = sqlglot.parse_one(body, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)
    assert isinstance(tree, exp.Case), body
    unknown = {f.name.lower() for f in tree.find_all(exp.Anonymous)} - {"is_role_in_session"}
    assert not unknown, (body, unknown)
    return tree


@pytest.mark.slow
def test_policies_per_masked_level_and_type(statements):
    creates = [m for m in map(CREATE.match, statements) if m]
    alters = {m["name"]: m["body"] for m in map(ALTER_BODY.match, statements) if m}
    assert statements[0] == "create schema if not exists ANALYTICS.governance"
    names = {m["name"] for m in creates}
    assert "ANALYTICS.governance.pii_restricted_string" in names and "ANALYTICS.governance.pii_confidential_date" in names
    assert not any("public" in n or "internal" in n for n in names)
    for m in creates:
        assert alters[m["name"]] == m["body"], m["name"]  # the body is updated when the policy exists
        tree = _body_is_snowflake_sql(m["body"])
        roles = {r.this for r in tree.find_all(exp.Literal) if r.is_string and r.this.isupper()}
        if "restricted" in m["name"]:
            assert {"TRANSFORMER", "PRIVACY_OFFICER"} <= roles and "ANALYST" not in roles, m["body"]
        else:
            assert {"TRANSFORMER", "PRIVACY_OFFICER", "ANALYST"} <= roles, m["body"]
    bodies = {m["name"].rsplit(".", 1)[1]: m["body"] for m in creates}
    assert "sha2(val, 256)" in bodies["pii_confidential_string"]  # joinable, not readable
    assert "'***restricted***'" in bodies["pii_restricted_string"]
    assert bodies["pii_restricted_date"].endswith("else null end")


@pytest.mark.slow
def test_every_masked_column_of_every_model_gets_its_policy(statements):
    attached = {}
    for s in statements:
        if s.lower().startswith("alter table") or s.lower().startswith("alter view"):
            m = ATTACH.match(s)
            assert m, s
            attached[(m["relation"], m["column"].lower())] = (m["kind"], m["policy"].rsplit(".", 1)[1])
    manifest = json.loads(ensure_manifest().read_text())
    expected = {}
    for name, node in pii.resources(manifest):
        if node["resource_type"] != "model":
            continue
        for column in node["columns"].values():
            level = pii.classification(column)
            if level in ("confidential", "restricted"):
                expected[(name, column["name"])] = level
    assert set(attached) == set(expected)
    assert all(policy.startswith(f"pii_{expected[key]}_") for key, (_, policy) in attached.items())
    assert attached[("profiles", "email")] == ("table", "pii_restricted_string")
    assert attached[("profiles", "birth_date")] == ("table", "pii_restricted_date")
    assert attached[("profiles", "city")] == ("table", "pii_confidential_string")
    assert attached[("stg_shopify__customers", "email")] == ("view", "pii_restricted_string")


def test_every_model_runs_the_post_hook_and_the_run_starts_with_the_policies():
    manifest = json.loads(ensure_manifest().read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    missing = [n["name"] for n in models
               if not any("cdp.apply_masking_policies()" in h["sql"] for h in n["config"]["post-hook"])]
    assert not missing
    hooks = [n for n in manifest["nodes"].values() if n["resource_type"] == "operation"]
    assert any("cdp.create_masking_policies()" in h["raw_code"] for h in hooks)


@pytest.mark.xfail(strict=True, reason="fakesnow does not implement masking policies (CREATE MASKING POLICY "
                                       "is not translated); on the emulator they are recorded and skipped")
def test_the_emulator_runs_masking_policies():
    import fakesnow
    import snowflake.connector

    with fakesnow.patch():
        connection = snowflake.connector.connect(database="ANALYTICS", schema="PUBLIC")
        cursor = connection.cursor()
        cursor.execute("create database if not exists ANALYTICS")
        cursor.execute("create or replace table t (email varchar)")
        cursor.execute("create masking policy p as (val string) returns string -> "
                       "case when is_role_in_session('TRANSFORMER') then val else '***' end")
        cursor.execute("alter table t modify column email set masking policy p")
        cursor.execute("insert into t values ('a@b.c')")
        assert cursor.execute("select email from t").fetchall() == [("***",)]
