{#
    Schemas are named exactly as the folder config says (`staging`, `intermediate`,
    `marts`), not `<target schema>_<custom>`: BI tools and syncs read `marts.profiles`
    in every environment. Environments are separated by database (Snowflake) or by file
    (DuckDB) instead; see docs/decisions.md.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
