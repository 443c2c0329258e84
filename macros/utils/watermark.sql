{#-
    The high-water mark of an incremental model: the newest value of `column` in its own
    table ({{ this }}), among the rows matching `where` when given, as a SQL subquery;
    1900-01-01 when there are none. A build takes the inputs written after it (or at or after
    it, as the caller compares).
-#}
{% macro watermark(column, where=none) -%}
    (select coalesce(max({{ column }}), cast('1900-01-01' as {{ dbt.type_timestamp() }})) from {{ this }}
    {%- if where %} where {{ where }}{% endif %})
{%- endmacro %}
