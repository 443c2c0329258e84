{#
    One row per day from start_date up to but not including end_date, as column date_day.
    The day numbers come from cross joins of a ten-row digit list, plain SQL that every
    engine runs (Snowflake's GENERATOR and DuckDB's RANGE differ, and neither is portable);
    the span is known at compile time, so exactly enough digit places are joined.
#}
{% macro date_spine(start_date, end_date) -%}
    {%- set start = modules.datetime.date.fromisoformat(start_date | string) -%}
    {%- set end = modules.datetime.date.fromisoformat(end_date | string) -%}
    {%- set days = (end - start).days -%}
    {%- if days < 1 -%}
        {{ exceptions.raise_compiler_error("date_spine: end_date " ~ end ~ " must be after start_date " ~ start
            ~ "; set the vars to a range of at least one day") }}
    {%- endif -%}
    {%- set places = (days - 1) | string | length -%}
    with digits as (
        select 0 as d union all select 1 union all select 2 union all select 3 union all select 4
        union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
    ),

    day_numbers as (
        select
            {% for place in range(places) -%}
            p{{ place }}.d * {{ 10 ** place }}{{ ' + ' if not loop.last }}
            {%- endfor %} as day_number
        from digits as p0
        {%- for place in range(1, places) %}
        cross join digits as p{{ place }}
        {%- endfor %}
    )

    select cast({{ dbt.dateadd('day', 'day_number', "cast('" ~ start ~ "' as date)") }} as date) as date_day
    from day_numbers
    where day_number < {{ days }}
{%- endmacro %}
