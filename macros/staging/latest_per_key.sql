{#
    Keep the newest version of each record: Fivetran merges by primary key, but a raw
    table can still hold several rows per key (history mode, re-synced batches, Segment
    re-deliveries). Renders a QUALIFY clause, which DuckDB and Snowflake both support.
#}
{% macro latest_per_key(key, order_by) -%}
    qualify row_number() over (partition by {{ key }} order by {{ order_by }} desc) = 1
{%- endmacro %}
