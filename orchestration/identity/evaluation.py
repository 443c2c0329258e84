"""Pairwise precision and recall of identity resolution against the simulator's ground truth.

Every person-bearing raw record the simulator writes is listed in ``_truth.record_persons``
with the person it belongs to. Identity resolution assigns each record (by its record key,
``<type>:<id>``) to a profile. Two records form a *true pair* when they belong to the same
person and a *predicted pair* when they share a profile; precision is the share of
predicted pairs that are true, recall the share of true pairs that are predicted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb

# (truth source, truth table) -> the record type (record-key prefix) identity resolution uses.
TRUTH_RECORD_TYPES = {
    ("shopify", "customer"): "shopify_customer_id",
    ("stripe", "customer"): "stripe_customer_id",
    ("klaviyo", "person"): "klaviyo_person_id",
    ("zendesk", "user"): "zendesk_user_id",
    ("salesforce", "contact"): "salesforce_contact_id",
    ("salesforce", "lead"): "salesforce_lead_id",
    ("segment", "users"): "user_id",
}


@dataclass(frozen=True)
class PairwiseScores:
    records: int
    people: int
    profiles: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    unassigned_records: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    def as_dict(self) -> dict:
        return {**asdict(self), "precision": self.precision, "recall": self.recall}


def truth_records_sql() -> str:
    """A query of (record_key, person_id) for every person record the simulator wrote."""
    cases = " ".join(
        f"when source = '{s}' and table_name = '{t}' then '{rt}'" for (s, t), rt in TRUTH_RECORD_TYPES.items())
    return f"""
        select record_type || ':' || record_id as record_key, person_id
        from (select case {cases} end as record_type, record_id, person_id from _truth.record_persons) as t
        where record_type is not null"""


def pairwise_scores(con: duckdb.DuckDBPyConnection,
                    assignment: str = "intermediate.int_identity_record_profiles",
                    column: str = "profile_id") -> PairwiseScores:
    """Score the record -> profile assignment in ``assignment`` (a table with ``record_key``
    and ``column``) against the truth. Records the truth knows but the assignment lacks
    (a deleted source row, say) are counted and left out of the pairs."""
    row = con.execute(f"""
        with truth as ({truth_records_sql()}),
        assigned as (
            select t.person_id, a.{column} as grp
            from truth as t inner join {assignment} as a on t.record_key = a.record_key
        ),
        cells as (select grp, person_id, count(*) as n from assigned group by grp, person_id),
        by_group as (select grp, count(*) as n from assigned group by grp),
        by_person as (select person_id, count(*) as n from assigned group by person_id)
        select
            (select count(*) from assigned),
            (select count(*) from by_person),
            (select count(*) from by_group),
            (select coalesce(sum(n * (n - 1) / 2), 0) from by_person),
            (select coalesce(sum(n * (n - 1) / 2), 0) from by_group),
            (select coalesce(sum(n * (n - 1) / 2), 0) from cells),
            (select count(*) from truth) - (select count(*) from assigned)
    """).fetchone()
    return PairwiseScores(*(int(v) for v in row))
