{#
    The columns of a source this project writes itself (predictions, privacy requests, sync
    runs), or no rows with the same columns while the table does not exist yet, so that a
    first build never fails on a table only a later step creates. A column the table lacks
    (written by an older version) comes back null.
#}
{% macro source_or_empty(relation, columns) -%}
    {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema,
                                         identifier=relation.identifier) if execute else none -%}
    {%- set have = (adapter.get_columns_in_relation(found) | map(attribute='name') | map('lower') | list)
        if found is not none else [] -%}
    select
        {%- for column in columns %}
        {{ column if column in have else 'null' }} as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    {%- if found is not none %}
    from {{ found }}
    {%- else %}
    where false
    {%- endif %}
{%- endmacro %}
