{#
    The time window of a partition run, from the vars cdp_partition_start and
    cdp_partition_end (Dagster passes them when it materializes one day, or a range of days,
    of a partitioned model; see docs/dagster.md). Returns none when neither is set: the model
    then builds as it always does. Only an incremental run honours a window; building the
    table from nothing (first run, --full-refresh) takes everything.
#}
{% macro partition_window() -%}
    {%- set start = var('cdp_partition_start', none) -%}
    {%- set end = var('cdp_partition_end', none) -%}
    {%- if start is none and end is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set pattern = '^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$' -%}
    {%- if start is none or end is none -%}
        {{ exceptions.raise_compiler_error("cdp_partition_start and cdp_partition_end go together: pass both (e.g. --vars '{cdp_partition_start: 2026-06-01, cdp_partition_end: 2026-06-02}') or neither") }}
    {%- endif -%}
    {%- for name, value in [('cdp_partition_start', start), ('cdp_partition_end', end)] -%}
        {%- if not modules.re.match(pattern, value | string) -%}
            {{ exceptions.raise_compiler_error(name ~ " must be a UTC date or timestamp like 2026-06-01 or 2026-06-01 00:00:00, got '" ~ value ~ "'") }}
        {%- endif -%}
    {%- endfor -%}
    {#- Whole timestamps, so that the two compare as text and cast the same on every engine. -#}
    {%- set padding = {10: ' 00:00:00', 16: ':00', 19: ''} -%}
    {%- set start_text = (start | string) | replace('T', ' ') -%}
    {%- set start_text = start_text ~ padding[start_text | length] -%}
    {%- set end_text = (end | string) | replace('T', ' ') -%}
    {%- set end_text = end_text ~ padding[end_text | length] -%}
    {%- if start_text >= end_text -%}
        {{ exceptions.raise_compiler_error("cdp_partition_start (" ~ start_text ~ ") must come before cdp_partition_end (" ~ end_text ~ ")") }}
    {%- endif -%}
    {{ return({'start': start_text, 'end': end_text}) }}
{%- endmacro %}
