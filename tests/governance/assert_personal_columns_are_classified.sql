-- Every source or model column whose name looks personal (macro pii_rules) carries a
-- classification in its YAML properties, config: {meta: {classification: <level>}}, and
-- every classification is one of the levels. One row per offending column; how to fix it:
-- docs/pii.md. Reads only the project's graph, so it runs before any model is built.
{{ config(tags=['governance']) }}

{%- set found = cdp.unclassified_personal_columns() if execute else [] %}

{%- if found %}
    {%- for f in found %}
select
    '{{ f.resource }}' as resource_name,
    '{{ f.column }}' as column_name,
    '{{ f.problem | replace("'", "''") }}' as problem
        {%- if not loop.last %}
union all
        {%- endif %}
    {%- endfor %}
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as resource_name,
    cast(null as {{ dbt.type_string() }}) as column_name,
    cast(null as {{ dbt.type_string() }}) as problem
where 1 = 0
{%- endif %}
