{#
    The raw tables dbt knows as sources (connectors' tables, not the project's own
    write-backs with loader 'cdp'), each with its relation, primary key, loaded_at_field
    and freshness thresholds in hours, read from the source YAML files through the graph.
    Empty at parse time, when the graph is not filled in yet.
#}
{% macro raw_source_tables() -%}
    {%- set tables = [] -%}
    {%- if execute -%}
        {%- for node in graph.sources.values() | sort(attribute='unique_id') -%}
            {%- if node.package_name == project_name and node.loader != 'cdp' -%}
                {%- set freshness = node.freshness or {} -%}
                {%- do tables.append({
                    'source_name': node.source_name,
                    'table_name': node.name,
                    'relation': node.relation_name,
                    'primary_key': (node.config.meta or node.meta or {}).get('primary_key', []),
                    'load_mode': (node.config.meta or node.meta or {}).get('load_mode', ''),
                    'loaded_at_field': node.loaded_at_field,
                    'warn_after_hours': cdp.freshness_hours(freshness.get('warn_after')),
                    'error_after_hours': cdp.freshness_hours(freshness.get('error_after')),
                }) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(tables) }}
{%- endmacro %}

{#- A dbt freshness period ({count, period}) in hours; none when not set. -#}
{% macro freshness_hours(threshold) -%}
    {%- if threshold and threshold.count is not none -%}
        {{ return(threshold.count * {'minute': 1 / 60, 'hour': 1, 'day': 24}[threshold.period]) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}
