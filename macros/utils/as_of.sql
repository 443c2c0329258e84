{#
    The moment time-relative figures (days since, "in the last 30 days") are computed as of:
    var('as_of') when set (a date or timestamp, UTC), else the environment variable
    CDP_AS_OF, else the current time in UTC. On a simulated warehouse the CLI, Dagster and
    the tests set CDP_AS_OF to the simulation's clock (orchestration/dbt/project.py), so
    "days since last order" means the same thing as the data.

    The variable is read when SQL is compiled (execute), not while dbt parses: dbt re-parses
    every file whose parse read an environment variable that has changed since, and this one
    changes with every tick of the simulated clock (9 files, 2.3 s a run).
#}
{% macro as_of() -%}
    {%- set value = var('as_of', none) or (env_var('CDP_AS_OF', '') if execute else '') -%}
    {%- if value -%}
        cast({{ cdp.sql_string(value | string) }} as {{ dbt.type_timestamp() }})
    {%- else -%}
        {{ cdp.utc_now() }}
    {%- endif -%}
{%- endmacro %}

{#-
    When this dbt invocation started (run_started_at, UTC, whole seconds) as a SQL timestamp:
    the build time stateful models stamp their rows with.
-#}
{% macro build_started_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro utc_now() -%}
    {{ return(adapter.dispatch('utc_now', 'cdp')()) }}
{%- endmacro %}

{% macro default__utc_now() -%}
    cast(current_timestamp at time zone 'UTC' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro snowflake__utc_now() -%}
    sysdate()
{%- endmacro %}

{#-
    A Python value as an escaped SQL string literal. Quotes are doubled everywhere; on
    Snowflake, where a backslash escapes the next character inside '...', backslashes are
    doubled too (else a value ending in a backslash would end the literal early).
-#}
{% macro sql_string(value) -%}
    {{ return(adapter.dispatch('sql_string', 'cdp')(value)) }}
{%- endmacro %}

{% macro default__sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{% macro snowflake__sql_string(value) -%}
    '{{ value | string | replace("\\", "\\\\") | replace("'", "''") }}'
{%- endmacro %}
