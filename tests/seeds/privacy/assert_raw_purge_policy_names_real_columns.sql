{#
    Every row of seeds/privacy/raw_purge_policy.csv must name a declared dbt source table and,
    when that raw table has landed, one of its columns: a typo would make `cdp privacy forget`
    skip the table (or fail mid-purge) and keep the person's raw rows. Fails with one row per
    policy row and what is wrong with it. Raw tables not landed (a source a team does not use)
    are not an error.
#}
{%- set problems = [] -%}
{%- if execute -%}
    {%- set policy = run_query("select source, table_name, column_name from " ~ ref('raw_purge_policy')) -%}
    {%- for row in policy.rows -%}
        {%- set declared = graph.sources.values() | selectattr('source_name', 'equalto', row[0])
                                                  | selectattr('name', 'equalto', row[1]) | list -%}
        {%- if not declared -%}
            {%- do problems.append((row[0], row[1], row[2], 'no dbt source ' ~ row[0] ~ '.' ~ row[1]
                                    ~ ' is declared (models/staging/*/_*__sources.yml)')) -%}
        {%- else -%}
            {%- set relation = adapter.get_relation(declared[0].database, declared[0].schema, declared[0].identifier | replace('"', '')) -%}
            {%- if relation is not none -%}
                {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
                {%- if row[2] | lower not in columns -%}
                    {%- do problems.append((row[0], row[1], row[2], 'the raw table has no column ' ~ row[2])) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}

{%- if problems %}
{%- for problem in problems %}
select
    {{ cdp.sql_string(problem[0]) }} as source,
    {{ cdp.sql_string(problem[1]) }} as table_name,
    {{ cdp.sql_string(problem[2]) }} as column_name,
    {{ cdp.sql_string(problem[3]) }} as problem
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
{%- else %}
select
    source,
    table_name,
    column_name,
    'never' as problem
from {{ ref('raw_purge_policy') }}
where 1 = 0
{%- endif %}
