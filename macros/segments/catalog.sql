{#
    What the segment compiler may read, from the project graph:
    - segments: every exposure with config.meta.segment (segments/*.yml), by name, with its
      rule and file;
    - columns: the columns of profiles, profile_traits, profile_rfm and the predictive scores
      (stg_predictions__profile_scores: churn_risk, predicted_value_12m, ...) with their
      declared types (a name on more than one model is read from the first of these);
    - events: config.meta.events on profile_events.properties (event -> property -> type).
    A dbt unit test compiles a model without the graph, so it passes the same structure in
    var('segment_catalog_for_unit_tests'): {segments: {name: {rule}}, columns: {name:
    {model, data_type}}, events: {...}}.
#}

{#- The models whose columns segments (and lookalikes) compare, in lookup order, with their aliases. -#}
{% macro segment_models() -%}
    {{ return({'profiles': 'p', 'profile_traits': 't', 'profile_rfm': 'r', 'stg_predictions__profile_scores': 's'}) }}
{%- endmacro %}

{% macro segment_catalog() -%}
    {%- set override = var('segment_catalog_for_unit_tests', none) -%}
    {%- if override -%}
        {{ return(cdp.segment_catalog_from(override.get('segments', {}), override.get('columns', {}),
                                           override.get('events', {}), 'unit test')) }}
    {%- endif -%}
    {%- set segments = {} -%}
    {%- for exposure in graph.exposures.values() if exposure.package_name == project_name -%}
        {%- set meta = (exposure.get('config') or {}).get('meta') or exposure.get('meta') or {} -%}
        {%- if 'segment' in meta -%}
            {%- set spec = meta.segment -%}
            {%- if spec is not mapping -%}
                {{ exceptions.raise_compiler_error(exposure.original_file_path ~ ": segment '" ~ exposure.name
                    ~ "': config.meta.segment must be a mapping with a 'rule'") }}
            {%- endif -%}
            {%- do segments.update({exposure.name: {'rule': spec.get('rule'), 'file': exposure.original_file_path}}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set columns = {} -%}
    {%- set events = {} -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.package_name == project_name -%}
        {%- if node.name in cdp.segment_models() -%}
            {%- for name, column in node.columns.items() -%}
                {%- do columns.update({node.name ~ '.' ~ name: {'model': node.name, 'data_type': column.data_type}}) -%}
            {%- endfor -%}
        {%- elif node.name == 'profile_events' -%}
            {%- set column = node.columns.get('properties') or {} -%}
            {%- do events.update(((column.get('config') or {}).get('meta') or column.get('meta') or {}).get('events') or {}) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- Flatten to one name per column, profiles first. -#}
    {%- set flat = {} -%}
    {%- for model in cdp.segment_models() -%}
        {%- for key, column in columns.items() if column.model == model -%}
            {%- set name = key.split('.', 1)[1] -%}
            {%- do flat.update({name: column}) if name not in flat -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(cdp.segment_catalog_from(segments, flat, events, 'the project graph')) }}
{%- endmacro %}

{#- The catalog the compiler reads, with each column's table alias; checks the event types. -#}
{% macro segment_catalog_from(segments, columns, events, origin) -%}
    {%- set checked = {} -%}
    {%- for name, column in columns.items() -%}
        {%- if column.model not in cdp.segment_models() -%}
            {{ exceptions.raise_compiler_error("segment catalog (" ~ origin ~ "): column '" ~ name ~ "' names model '"
                ~ column.model ~ "'; segments read " ~ cdp.segment_models().keys() | join(', ')) }}
        {%- endif -%}
        {%- do checked.update({name: {'model': column.model, 'data_type': column.data_type,
                                      'alias': cdp.segment_models()[column.model]}}) -%}
    {%- endfor -%}
    {%- for event, properties in events.items() -%}
        {%- for property, type in (properties or {}).items() -%}
            {%- if type not in ['number', 'text', 'boolean', 'timestamp'] or not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', property) -%}
                {{ exceptions.raise_compiler_error("models/marts/identity/_identity__models.yml, profile_events.properties"
                    ~ " config.meta.events: event '" ~ event ~ "' property '" ~ property ~ "' must be a plain name"
                    ~ " typed number, text, boolean or timestamp (got " ~ type ~ ")") }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set named = {} -%}
    {%- for name, segment in segments.items() -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]*$', name) -%}
            {{ exceptions.raise_compiler_error((segment.get('file') or origin) ~ ": segment '" ~ name
                ~ "': segment names are snake_case (lower-case letters, digits, underscores)") }}
        {%- endif -%}
        {%- do named.update({name: {'rule': segment.get('rule'), 'file': segment.get('file') or origin}}) -%}
    {%- endfor -%}
    {{ return({'segments': named, 'columns': checked, 'events': events}) }}
{%- endmacro %}


{#- Every declared segment's name as rows (segment_name), so a segment with no member still shows. -#}
{% macro segment_names_relation() -%}
    {%- set names = (cdp.segment_catalog().segments.keys() | sort | list) if execute else [] -%}
    {%- for name in names %}
    {{ "union all" if not loop.first }}
    select {{ cdp.sql_string(name) }} as segment_name
    {%- endfor %}
    {%- if not names %}
    select cast(null as {{ dbt.type_string() }}) as segment_name
    where false
    {%- endif %}
{%- endmacro %}
