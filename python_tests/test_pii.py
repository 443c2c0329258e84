"""PII governance (docs/pii.md): every personal-looking column is classified, and on
Snowflake the classification becomes masking policies. Reads the parsed manifest; no
warehouse is built here."""

from __future__ import annotations

import json

import pytest

from orchestration.dbt.project import ensure_manifest
from orchestration.lib import pii


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(ensure_manifest().read_text())


def test_every_personal_looking_column_is_classified(manifest):
    problems = pii.unclassified_personal_columns(manifest)
    assert not problems, ("classify these columns in their YAML properties with "
                          "config: {meta: {classification: <level>}} (docs/pii.md):\n"
                          + "\n".join(map(str, problems)))


def test_the_check_finds_an_unclassified_column(manifest):
    """The check is not vacuous: a column named like an email, without a classification,
    is reported, and so is a classification that is not a level."""
    model = json.loads(json.dumps(manifest["nodes"]["model.cdp.profiles"]))
    model["columns"]["email"]["config"]["meta"].pop("classification")
    model["columns"]["email"]["meta"].pop("classification", None)
    model["columns"]["phone"]["config"]["meta"]["classification"] = "secret"
    fake = {"sources": {}, "nodes": {model["unique_id"]: model}}
    assert [(p.column, p.problem.split()[0]) for p in pii.unclassified_personal_columns(fake)] == [
        ("email", "looks"), ("phone", "classification")]


@pytest.mark.parametrize("name, looks", [
    ("email", True), ("billing_detail_email", True), ("email_raw", True), ("has_opted_out_of_email", False),
    ("can_email", False), ("email_consent", False), ("phone_2_raw", True), ("mobile_phone", True),
    ("first_name", True), ("shipping_address_name", True), ("product_name", False), ("segment_name", False),
    ("mailing_postal_code", True), ("ip_address", True), ("context_ip", True), ("shipping", False),
    ("birthdate_c", True), ("anonymous_id", True), ("profile_id", False), ("user_agent", True),
    ("description", True), ("street_level", False), ("email_sha256", True), ("identifier_value", True),
])
def test_patterns(name, looks):
    assert bool(pii.looks_personal(name)) is looks, pii.looks_personal(name)


def test_the_allow_list_names_real_columns_with_reasons(manifest):
    columns = {(r, c) for r, node in pii.resources(manifest) for c in node["columns"]}
    for entry in pii.rules()["allowed_unclassified"]:
        assert (entry["resource"], entry["column"]) in columns, entry
        assert pii.looks_personal(entry["column"]), f"{entry}: no pattern matches it, drop it"
        assert len(entry.get("reason", "")) > 10, entry


def test_a_renamed_column_keeps_at_least_its_parents_level(manifest):
    """A model column named like a column of a model or source it reads is at least as
    protected as that column (a staging view must not publish a restricted raw value as
    internal)."""
    rank = {level: i for i, level in enumerate(pii.levels())}
    by_id = {**manifest["sources"], **manifest["nodes"]}
    weaker = []
    for name, node in pii.resources(manifest):
        if node["resource_type"] != "model":
            continue
        for column in node["columns"].values():
            for parent_id in node["depends_on"]["nodes"]:
                parent = by_id.get(parent_id, {}).get("columns", {}).get(column["name"])
                if parent and pii.classification(parent) and \
                        rank[pii.classification(parent)] > rank.get(pii.classification(column), -1) and \
                        pii.looks_personal(column["name"]):
                    weaker.append(f"{name}.{column['name']}: {pii.classification(column)} "
                                  f"< {pii.classification(parent)} in {parent_id}")
    assert not weaker, weaker


def test_the_dbt_test_is_in_the_project(manifest):
    tests = [n for n in manifest["nodes"].values() if n["name"] == "assert_personal_columns_are_classified"]
    assert tests and "governance" in tests[0]["tags"]
