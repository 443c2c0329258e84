"""How often the golden record says what the simulator's truth says.

Each profile is compared with the person most of its records belong to
(``_truth.record_persons``). A field counts only where both the golden record and the truth
have a value; names and cities compare case-insensitively, emails against either of the
person's two addresses as identity resolution normalises them (lower case; Gmail dots and
+tags folded), birth dates exactly.
"""

from __future__ import annotations

import duckdb

from orchestration.identity.evaluation import truth_records_sql

FIELDS = ("first_name", "last_name", "email", "city", "birth_date")


def _fold(column: str) -> str:
    """An email as the default identity rules normalise it (see macros/identity/normalize.sql)."""
    local = f"split_part(lower(trim({column})), '@', 1)"
    domain = f"split_part(lower(trim({column})), '@', 2)"
    local = f"split_part({local}, '+', 1)"
    local = f"case when {domain} in ('gmail.com', 'googlemail.com') then replace({local}, '.', '') else {local} end"
    return f"({local} || '@' || {domain})"


def golden_record_accuracy(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, float]]:
    """Per field: profiles compared, and the share whose golden value matches the truth."""
    matches = {
        "first_name": "lower(g.first_name) in (lower(t.first_name), lower(coalesce(t.nickname, t.first_name)))",
        "last_name": "lower(g.last_name) = lower(t.last_name)",
        "email": f"g.email in ({_fold('t.email')}, {_fold('t.email_alt')})",
        "city": "lower(g.city) in (lower(t.city), lower(coalesce(t.new_city, t.city)))",
        "birth_date": "g.birth_date = cast(t.birth_date as date)",
    }
    cells = ", ".join(
        f"count(case when g.{f} is not null and t.{'email' if f == 'email' else f} is not null then 1 end), "
        f"count(case when g.{f} is not null and t.{'email' if f == 'email' else f} is not null and {m} then 1 end)"
        for f, m in matches.items())
    row = con.execute(f"""
        with truth as ({truth_records_sql()}),
        votes as (
            select p.profile_id, t.person_id, count(*) as n
            from truth as t inner join intermediate.int_identity_record_profiles as p on t.record_key = p.record_key
            group by p.profile_id, t.person_id
        ),
        majority as (
            select profile_id, person_id from votes
            qualify row_number() over (partition by profile_id order by n desc, person_id) = 1
        )
        select {cells}
        from marts.profiles as g
        inner join majority as m on g.profile_id = m.profile_id
        inner join _truth.persons as t on m.person_id = t.person_id
    """).fetchone()
    result = {}
    for i, field in enumerate(matches):
        compared, correct = row[2 * i], row[2 * i + 1]
        result[field] = {"compared": compared, "accuracy": correct / compared if compared else 1.0}
    return result
