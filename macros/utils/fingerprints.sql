{#-
    Change detection by fingerprint, for incremental models that record when each key's inputs
    last changed (int_device_link_changes, int_profile_field_changes).

    fingerprint_row(columns): a 63-bit hash of one row's columns (the engine's own
    multi-argument hash, hash(a, b, ...) on DuckDB and Snowflake: stable on each engine,
    nulls hashed by position).

    fingerprint(row_hash): an aggregate - the sum of the rows' hashes modulo a prime below
    2^63, so it stays a bigint however many rows. Order does not matter.

    changed_fingerprints(current, key, count_column, fingerprint_column): the rows of the
    relation or CTE `current` (one per key, with a row count and a fingerprint) whose count or
    fingerprint differ from those stored in {{ this }}, plus a row with null count and
    fingerprint for each stored key that has no rows any more (written once). Not incremental
    (first build, full refresh): every row of `current`.
-#}
{% macro fingerprint_row(columns) -%}
    {{ cdp.node_id(columns | join(', ')) }}
{%- endmacro %}

{% macro fingerprint(row_hash) -%}
    cast(sum({{ row_hash }}) % 9223372036854775783 as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro changed_fingerprints(current, key, count_column, fingerprint_column) -%}
    {%- if is_incremental() %}
    select
        coalesce(c.{{ key }}, s.{{ key }}) as {{ key }},
        c.{{ count_column }},
        c.{{ fingerprint_column }}
    from {{ current }} as c
    full outer join {{ this }} as s on c.{{ key }} = s.{{ key }}
    where
        s.{{ key }} is null
        -- Inputs gone (written once: a stored row without inputs stays as it is).
        or (c.{{ key }} is null and s.{{ count_column }} is not null)
        -- (is distinct from: a key that lost its inputs and has them again is a change)
        or (
            c.{{ key }} is not null
            and (
                c.{{ count_column }} is distinct from s.{{ count_column }}
                or c.{{ fingerprint_column }} is distinct from s.{{ fingerprint_column }}
            )
        )
    {%- else %}
    select
        {{ key }},
        {{ count_column }},
        {{ fingerprint_column }}
    from {{ current }}
    {%- endif %}
{%- endmacro %}
