{#
    A numeric SQL expression that fails the query, with `message` (a SQL string expression)
    in the error, when the database evaluates it: put it in a CASE branch that only a broken
    invariant reaches. DuckDB has error(); Snowflake has no such function in plain SQL, so
    there the message is cast to a number, which fails with "Numeric value '<message>' is
    not recognized". The message must not be a constant (it would be folded at compile
    time): build it from the failing values.
#}
{% macro raise_query_error(message) -%}
    {{ return(adapter.dispatch('raise_query_error', 'cdp')(message)) }}
{%- endmacro %}

{% macro default__raise_query_error(message) -%}
    cast({{ message }} as double)
{%- endmacro %}

{% macro duckdb__raise_query_error(message) -%}
    cast(error({{ message }}) as double)
{%- endmacro %}
