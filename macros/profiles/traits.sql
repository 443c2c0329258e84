{#
    The trait compiler: turns the trait catalog (each column of profile_traits in
    models/marts/profiles/_profiles__traits.yml carries its definition in config.meta.trait)
    into SQL. Every value from the catalog is rendered as an escaped literal; every name
    that becomes SQL (properties, columns) is checked against a strict pattern; anything
    unknown fails the build with the trait's name and the fix.
#}


{% macro trait_error(name, message) -%}
    {{ exceptions.raise_compiler_error("models/marts/profiles/_profiles__traits.yml, trait '" ~ name ~ "': " ~ message) }}
{%- endmacro %}

{#- Kinds, and the inputs ("from") each may read. -#}
{% macro trait_kinds() -%}
    {{ return({
        'count': 'aggregate', 'sum': 'aggregate', 'avg': 'aggregate', 'min': 'aggregate', 'max': 'aggregate',
        'first_value': 'aggregate', 'last_value': 'aggregate', 'first_at': 'aggregate', 'last_at': 'aggregate',
        'days_since': 'aggregate', 'unique_list': 'aggregate', 'count_distinct': 'aggregate',
        'most_frequent': 'ranked', 'expression': 'expression', 'lookup': 'lookup'}) }}
{%- endmacro %}

{#-
    The traits declared on the columns of model `model_name`, in catalog order:
    [{name, data_type, spec}]. A dbt unit test compiles the model without the project graph,
    so it passes its own catalog in var('trait_catalog_for_unit_tests'): a list of
    {name, data_type, config: {meta: {trait: ...}}} entries, the same shape as the columns.
-#}
{% macro trait_catalog(model_name) -%}
    {%- set override = var('trait_catalog_for_unit_tests', none) -%}
    {%- if override -%}
        {%- set columns = {} -%}
        {%- for entry in override -%}{%- do columns.update({entry.name: entry}) -%}{%- endfor -%}
        {%- set node = {'columns': columns} -%}
    {%- else -%}
        {%- set nodes = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
                        | selectattr('package_name', 'equalto', project_name) | selectattr('name', 'equalto', model_name) | list -%}
        {%- if nodes | length != 1 -%}
            {{ exceptions.raise_compiler_error("trait catalog: no model named '" ~ model_name ~ "' in the project graph"
                ~ " (a unit test must pass var('trait_catalog_for_unit_tests'))") }}
        {%- endif -%}
        {%- set node = nodes[0] -%}
    {%- endif -%}
    {%- set traits = [] -%}
    {%- for name, column in node.columns.items() if name != 'profile_id' -%}
        {%- set meta = (column.get('config') or {}).get('meta') or column.get('meta') or {} -%}
        {%- set spec = meta.get('trait') -%}
        {%- if not spec or spec is not mapping -%}
            {{ cdp.trait_error(name, "no definition: give the column config: {meta: {trait: {kind: ...}}} (kinds: "
                ~ (cdp.trait_kinds().keys() | sort | join(', ')) ~ ")") }}
        {%- endif -%}
        {%- if spec.get('kind') not in cdp.trait_kinds() -%}
            {{ cdp.trait_error(name, "unknown kind '" ~ spec.get('kind') ~ "'; kinds: " ~ (cdp.trait_kinds().keys() | sort | join(', '))) }}
        {%- endif -%}
        {%- if not column.get('data_type') -%}
            {{ cdp.trait_error(name, "no data_type: the contract needs one (e.g. bigint, double, decimal(18, 2), varchar, timestamp)") }}
        {%- endif -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]*$', name) -%}
            {{ cdp.trait_error(name, "trait names must be snake_case (letters, digits, underscores)") }}
        {%- endif -%}
        {%- do traits.append({'name': name, 'data_type': column.get('data_type'), 'spec': spec}) -%}
    {%- endfor -%}
    {{ return(traits) }}
{%- endmacro %}

{#- A name that becomes SQL (a JSON property or a column): letters, digits, underscores only. -#}
{% macro trait_identifier(name, value, what) -%}
    {%- if value is not string or not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', value) -%}
        {{ cdp.trait_error(name, what ~ " '" ~ value ~ "' is not a plain name (letters, digits, underscores)") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{#- A catalog value as an escaped SQL literal. -#}
{% macro trait_literal(name, value) -%}
    {%- if value is boolean -%}{{ return('true' if value else 'false') }}
    {%- elif value is number -%}{{ return(value | string) }}
    {%- elif value is string -%}{{ return(cdp.sql_string(value)) }}
    {%- else -%}{{ cdp.trait_error(name, "value " ~ value ~ " is not a string, number or boolean") }}
    {%- endif -%}
{%- endmacro %}

{#- Columns each input offers (what `column:` and `where: [{column: ...}]` may name). -#}
{% macro trait_input_columns() -%}
    {{ return({
        'events': ['event_id', 'event_name', 'occurred_at', 'source', 'source_event_id', 'anonymous_id', 'user_id'],
        'sessions': ['session_id', 'anonymous_id', 'started_at', 'ended_at', 'event_count', 'page_views',
                     'screen_views', 'landing_path', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign',
                     'device_type', 'is_converted', 'revenue'],
        'subscriptions': ['subscription_status', 'subscription_count', 'live_subscription_count', 'mrr',
                          'first_subscribed_at', 'last_canceled_at']}) }}
{%- endmacro %}

{% macro trait_input(name, spec, allowed) -%}
    {%- set source = spec.get('from', 'events') -%}
    {%- if source not in allowed -%}
        {{ cdp.trait_error(name, "kind " ~ spec.kind ~ " cannot read from '" ~ source ~ "'; use one of: " ~ (allowed | join(', '))) }}
    {%- endif -%}
    {{ return(source) }}
{%- endmacro %}

{#- A trait's `event` names (one or a list) as escaped SQL literals; empty when it names none. -#}
{% macro trait_event_literals(name, spec) -%}
    {%- set literals = [] -%}
    {%- if spec.get('event') -%}
        {%- for n in ([spec.event] if spec.event is string else spec.event) -%}
            {%- do literals.append(cdp.trait_literal(name, n)) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(literals) }}
{%- endmacro %}

{#- The column of an events input that holds property `property` already read from the JSON
    (trait_extracted_properties). -#}
{% macro trait_property_column(property) -%}
    {{ return('property__' ~ property) }}
{%- endmacro %}

{#-
    The event properties the traits in `traits` read (value or `where`), each with the event
    names of the traits that read it: {property: [literal, ...]}, or none for a property some
    trait reads on every event. The events input extracts each once, for those events only
    (`case when event_name in (...) then <json> end`), and the traits read that column
    (extracted=true): the engine then parses each event's JSON once per property, and only on
    the events some trait reads it on, not once per trait on every event.
-#}
{% macro trait_extracted_properties(traits) -%}
    {%- set found = {} -%}
    {%- for trait in traits if trait.spec.get('from', 'events') == 'events' -%}
        {%- set names = cdp.trait_event_literals(trait.name, trait.spec) -%}
        {%- set items = [trait.spec] + (trait.spec.get('where', []) | list) -%}
        {%- for item in items if item is mapping and item.get('property') -%}
            {%- set property = cdp.trait_identifier(trait.name, item.property, 'property') -%}
            {%- if not names or (property in found and found[property] is none) -%}
                {%- do found.update({property: none}) -%}
            {%- else -%}
                {%- do found.update({property: ((found.get(property) or []) + names) | unique | list}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}

{#- The value a trait reads from one row: a column, or an event property (events only; from
    the extracted column when `extracted`, see trait_extracted_properties). -#}
{% macro trait_operand(name, spec, item, input, alias, default_type, extracted=false) -%}
    {%- if item.get('column') -%}
        {%- set column = cdp.trait_identifier(name, item.column, 'column') -%}
        {%- if column not in cdp.trait_input_columns()[input] -%}
            {{ cdp.trait_error(name, "'" ~ input ~ "' has no column '" ~ column ~ "'; columns: " ~ (cdp.trait_input_columns()[input] | join(', '))) }}
        {%- endif -%}
        {{ return(alias ~ '.' ~ column) }}
    {%- elif item.get('property') -%}
        {%- if input != 'events' -%}
            {{ cdp.trait_error(name, "properties exist on events only; for '" ~ input ~ "' name a column") }}
        {%- endif -%}
        {%- set property = cdp.trait_identifier(name, item.property, 'property') -%}
        {%- if extracted -%}
            {%- set text = alias ~ '.' ~ cdp.trait_property_column(property) -%}
        {%- else -%}
            {%- set text = cdp.json_get_string(alias ~ '.properties', property) -%}
        {%- endif -%}
        {%- set type = item.get('type', default_type) -%}
        {%- if type == 'number' -%}{{ return(dbt.safe_cast(text, dbt.type_float())) }}
        {%- elif type == 'timestamp' -%}{{ return(dbt.safe_cast(text, dbt.type_timestamp())) }}
        {%- elif type == 'string' -%}{{ return(text) }}
        {%- else -%}{{ cdp.trait_error(name, "type '" ~ type ~ "' is not number, string or timestamp") }}
        {%- endif -%}
    {%- else -%}
        {{ return(none) }}
    {%- endif -%}
{%- endmacro %}

{#- The rows a trait counts: its events (names, source), filters and time window. -#}
{% macro trait_condition(name, spec, input, alias, extracted=false) -%}
    {%- set parts = [] -%}
    {%- set time_column = alias ~ ('.started_at' if input == 'sessions' else '.occurred_at') -%}
    {%- if spec.get('event') -%}
        {%- if input != 'events' -%}{{ cdp.trait_error(name, "'event' applies to events only") }}{%- endif -%}
        {%- do parts.append(alias ~ '.event_name in (' ~ cdp.trait_event_literals(name, spec) | join(', ') ~ ')') -%}
    {%- endif -%}
    {%- if spec.get('source') -%}
        {%- do parts.append(alias ~ '.source = ' ~ cdp.trait_literal(name, spec.source)) -%}
    {%- endif -%}
    {%- for item in spec.get('where', []) -%}
        {%- if item is not mapping -%}{{ cdp.trait_error(name, "each 'where' entry is {property|column, op, value}") }}{%- endif -%}
        {%- set operand = cdp.trait_operand(name, spec, item, input, alias, 'string', extracted) -%}
        {%- if operand is none -%}{{ cdp.trait_error(name, "a 'where' entry names no property or column") }}{%- endif -%}
        {%- set op = item.get('op', '=') -%}
        {%- if op in ['=', '!=', '>', '>=', '<', '<='] -%}
            {%- do parts.append(operand ~ ' ' ~ op ~ ' ' ~ cdp.trait_literal(name, item.value)) -%}
        {%- elif op in ['in', 'not_in'] -%}
            {%- if item.value is string or item.value is not iterable -%}
                {{ cdp.trait_error(name, "op " ~ op ~ " needs a list value, e.g. value: [a, b]") }}
            {%- endif -%}
            {%- set literals = [] -%}
            {%- for v in item.value -%}{%- do literals.append(cdp.trait_literal(name, v)) -%}{%- endfor -%}
            {%- do parts.append('coalesce(' ~ operand ~ (' not' if op == 'not_in' else '') ~ ' in (' ~ literals | join(', ') ~ '), ' ~ ('true' if op == 'not_in' else 'false') ~ ')') -%}
        {%- elif op == 'is_null' -%}{%- do parts.append(operand ~ ' is null') -%}
        {%- elif op == 'is_not_null' -%}{%- do parts.append(operand ~ ' is not null') -%}
        {%- else -%}
            {{ cdp.trait_error(name, "unknown op '" ~ op ~ "' in 'where'; ops: =, !=, >, >=, <, <=, in, not_in, is_null, is_not_null") }}
        {%- endif -%}
    {%- endfor -%}
    {%- if spec.get('window_days') is not none -%}
        {%- if spec.window_days is not number or spec.window_days <= 0 -%}
            {{ cdp.trait_error(name, "window_days must be a positive number of days") }}
        {%- endif -%}
        {%- do parts.append(time_column ~ ' > ' ~ dbt.dateadd('day', -(spec.window_days | int), cdp.as_of())) -%}
    {%- endif -%}
    {{ return(parts | join(' and ') if parts else 'true') }}
{%- endmacro %}

{#- One aggregate over a profile's rows of its input. -#}
{% macro trait_aggregate(name, spec, input, alias, extracted=false) -%}
    {%- set kind = spec.kind -%}
    {%- set condition = cdp.trait_condition(name, spec, input, alias, extracted) -%}
    {%- set time_column = alias ~ ('.started_at' if input == 'sessions' else '.occurred_at') -%}
    {%- set operand = cdp.trait_operand(name, spec, spec, input, alias, 'number' if kind in ['sum', 'avg', 'min', 'max'] else 'string', extracted) -%}
    {%- if kind in ['sum', 'avg', 'min', 'max', 'first_value', 'last_value', 'unique_list', 'count_distinct'] and operand is none -%}
        {{ cdp.trait_error(name, "kind " ~ kind ~ " needs a 'property' (events) or a 'column'") }}
    {%- endif -%}
    {%- if kind == 'count' -%}
        {{ return('count(case when ' ~ condition ~ ' then 1 end)') }}
    {%- elif kind in ['sum', 'avg', 'min', 'max'] -%}
        {{ return(kind ~ '(case when ' ~ condition ~ ' then ' ~ operand ~ ' end)') }}
    {%- elif kind == 'count_distinct' -%}
        {{ return('count(distinct case when ' ~ condition ~ ' then ' ~ operand ~ ' end)') }}
    {%- elif kind in ['first_value', 'last_value'] -%}
        {#- the value of the first (last) row that has one -#}
        {{ return(('min_by' if kind == 'first_value' else 'max_by') ~ '(' ~ operand ~ ', case when ' ~ condition
                  ~ ' and ' ~ operand ~ ' is not null then ' ~ time_column ~ ' end)') }}
    {%- elif kind in ['first_at', 'last_at'] -%}
        {{ return(('min' if kind == 'first_at' else 'max') ~ '(case when ' ~ condition ~ ' then ' ~ time_column ~ ' end)') }}
    {%- elif kind == 'days_since' -%}
        {%- set which = spec.get('of', 'last') -%}
        {%- if which not in ['first', 'last'] -%}{{ cdp.trait_error(name, "'of' is first or last") }}{%- endif -%}
        {%- set moment = ('min' if which == 'first' else 'max') ~ '(case when ' ~ condition ~ ' then ' ~ time_column ~ ' end)' -%}
        {{ return(dbt.datediff(moment, cdp.as_of(), 'day')) }}
    {%- elif kind == 'unique_list' -%}
        {{ return(cdp.sorted_unique_list('case when ' ~ condition ~ ' then ' ~ operand ~ ' end')) }}
    {%- endif -%}
{%- endmacro %}
