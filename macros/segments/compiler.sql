{#
    The segment compiler: turns segment definitions (segments/*.yml, each an exposure whose
    config.meta.segment.rule holds the rule) into one SQL query that returns
    (segment_name, profile_id) for every member of every segment.

    Safety: every value from a definition becomes an escaped literal of the type of what it
    is compared with (cdp.sql_string on text; numbers, booleans, dates and timestamps are
    checked, then rendered); every name that becomes SQL (a column, an event property) must
    be one the catalog knows. Anything else fails with the segment's file, the path of the
    rule inside it, and the fix.

    The same macros run outside dbt: `cdp segment size` renders them with a small Jinja
    context (orchestration/segments/compiler.py), so they use only return(),
    exceptions.raise_compiler_error, adapter.dispatch, modules.re, tojson and the cdp/dbt
    macros they call.

    Semantics (README, "Segments"):
    - a comparison with a missing (null) value is false; `not` negates the whole condition,
      so `not: {trait: country_code, op: '=', value: US}` includes profiles with no country;
    - windows are (as_of - N days, as_of]; `between: [d1, d2]` is whole days d1..d2;
    - a sequence's steps happen at strictly increasing times, the last within N days of the
      first.
#}

{#- Ops each kind of condition accepts. -#}
{% macro segment_ops() -%}
    {{ return(['=', '!=', '>', '>=', '<', '<=', 'in', 'not_in', 'contains', 'starts_with', 'between',
               'is_null', 'is_not_null']) }}
{%- endmacro %}

{#- The keys each node may carry (anything else is a typo we refuse). -#}
{% macro segment_node_keys() -%}
    {{ return({
        'all': ['all'], 'any': ['any'], 'not': ['not'],
        'trait': ['trait', 'op', 'value'],
        'event': ['event', 'source', 'where', 'count', 'within_days', 'between'],
        'sequence': ['sequence', 'within_days'],
        'in_segment': ['in_segment']}) }}
{%- endmacro %}

{% macro segment_error(ctx, path, message) -%}
    {{ exceptions.raise_compiler_error(ctx.file ~ ": " ~ (ctx.get('kind') or 'segment') ~ " '" ~ ctx.segment ~ "', at " ~ (path or 'rule')
                                       ~ ": " ~ message) }}
{%- endmacro %}

{#- The comparable class of a column's SQL type: number, text, boolean, date or timestamp. -#}
{% macro segment_type_class(data_type) -%}
    {%- set t = (data_type or '') | lower | trim -%}
    {%- if modules.re.match('^(bigint|int|integer|smallint|tinyint|hugeint|double|float|real|decimal|numeric|number)\\b', t) -%}
        {{ return('number') }}
    {%- elif modules.re.match('^(varchar|text|string|char)\\b', t) -%}{{ return('text') }}
    {%- elif t in ['boolean', 'bool'] -%}{{ return('boolean') }}
    {%- elif t == 'date' -%}{{ return('date') }}
    {%- elif modules.re.match('^(timestamp|datetime)', t) -%}{{ return('timestamp') }}
    {%- else -%}{{ return(none) }}
    {%- endif -%}
{%- endmacro %}

{#- A plain scalar from YAML: a string, number, boolean or a date YAML parsed for us. -#}
{% macro segment_describe(value) -%}
    {%- if value is none -%}{{ return('null') }}
    {%- elif value is boolean -%}{{ return('boolean ' ~ (value | lower)) }}
    {%- elif value is number -%}{{ return('number ' ~ value) }}
    {%- elif value is string -%}{{ return("text '" ~ value ~ "'") }}
    {%- elif value is mapping -%}{{ return('a mapping') }}
    {%- elif value is sequence -%}{{ return('a list') }}
    {%- else -%}{{ return("'" ~ value ~ "'") }}
    {%- endif -%}
{%- endmacro %}

{#- A name from a definition, quoted, for a message. -#}
{% macro segment_quote(value) -%}
    {{ return("'" ~ value ~ "'" if value is string else cdp.segment_describe(value)) }}
{%- endmacro %}

{#- One value as an escaped SQL literal of type class `type_class`, or a clear error. -#}
{% macro segment_literal(ctx, path, value, type_class, what) -%}
    {%- set fix = {
        'number': 'give a number without quotes, e.g. 1000',
        'text': "give text in quotes, e.g. 'US'",
        'boolean': 'give true or false',
        'date': "give a date as 'YYYY-MM-DD'",
        'timestamp': "give a timestamp as 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS' (UTC)"}[type_class] -%}
    {%- set bad = what ~ ' is ' ~ type_class ~ ' but the value is ' ~ cdp.segment_describe(value) ~ ': ' ~ fix -%}
    {%- if value is none or value is mapping or (value is sequence and value is not string) -%}
        {{ cdp.segment_error(ctx, path, bad) }}
    {%- endif -%}
    {%- if type_class == 'boolean' -%}
        {%- if value is not boolean -%}{{ cdp.segment_error(ctx, path, bad) }}{%- endif -%}
        {{ return('true' if value else 'false') }}
    {%- elif type_class == 'number' -%}
        {%- if value is boolean or value is not number or (value | string | lower) in ['nan', 'inf', '-inf'] -%}
            {{ cdp.segment_error(ctx, path, bad) }}
        {%- endif -%}
        {{ return('cast(' ~ (value | string) ~ ' as double)' if value is float else (value | string)) }}
    {%- elif type_class == 'text' -%}
        {%- if value is not string -%}{{ cdp.segment_error(ctx, path, bad) }}{%- endif -%}
        {{ return(cdp.sql_string(value)) }}
    {%- else -%}
        {#- YAML turns an unquoted 2024-01-31 into a date: both it and a string are accepted. -#}
        {%- if value is boolean or value is number -%}{{ cdp.segment_error(ctx, path, bad) }}{%- endif -%}
        {%- set text = value | string -%}
        {%- set pattern = '^\\d{4}-\\d{2}-\\d{2}$' if type_class == 'date'
                          else '^\\d{4}-\\d{2}-\\d{2}([ T]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,6})?)?)?$' -%}
        {%- if not modules.re.match(pattern, text) -%}{{ cdp.segment_error(ctx, path, bad) }}{%- endif -%}
        {{ return('cast(' ~ cdp.sql_string(text | replace('T', ' ')) ~ ' as ' ~ type_class ~ ')') }}
    {%- endif -%}
{%- endmacro %}

{#- `operand <op> value` as a boolean that is never null (false when the operand is). -#}
{% macro segment_comparison(ctx, path, node, operand, type_class, what) -%}
    {%- set op = node.get('op') -%}
    {%- if op not in cdp.segment_ops() -%}
        {{ cdp.segment_error(ctx, path ~ '.op', "unknown op '" ~ op ~ "': use one of " ~ cdp.segment_ops() | join(', ')) }}
    {%- endif -%}
    {%- if op in ['is_null', 'is_not_null'] -%}
        {%- if 'value' in node -%}
            {{ cdp.segment_error(ctx, path ~ '.value', "op " ~ op ~ " takes no value: remove 'value'") }}
        {%- endif -%}
        {{ return('(' ~ operand ~ (' is null)' if op == 'is_null' else ' is not null)')) }}
    {%- endif -%}
    {%- if 'value' not in node -%}
        {{ cdp.segment_error(ctx, path, "op " ~ op ~ " needs a 'value'") }}
    {%- endif -%}
    {%- set value = node.value -%}
    {%- if op in ['contains', 'starts_with'] and type_class != 'text' -%}
        {{ cdp.segment_error(ctx, path ~ '.op', "op " ~ op ~ " applies to text, and " ~ what ~ " is " ~ type_class
                             ~ ": use =, >, <, between or in") }}
    {%- endif -%}
    {%- if type_class == 'boolean' and op not in ['=', '!=', 'in', 'not_in'] -%}
        {{ cdp.segment_error(ctx, path ~ '.op', what ~ " is boolean: use = or != with true or false") }}
    {%- endif -%}
    {%- if op in ['in', 'not_in', 'between'] -%}
        {%- if value is string or value is mapping or value is not sequence or value | length == 0
               or (op == 'between' and value | length != 2) -%}
            {{ cdp.segment_error(ctx, path ~ '.value', "op " ~ op ~ " needs a list"
                ~ (" of two values [low, high]" if op == 'between' else " of one or more values, e.g. [a, b]")) }}
        {%- endif -%}
        {%- set literals = [] -%}
        {%- for item in value -%}
            {%- do literals.append(cdp.segment_literal(ctx, path ~ '.value[' ~ loop.index0 ~ ']', item, type_class, what)) -%}
        {%- endfor -%}
        {%- if op == 'between' -%}
            {%- set sql = operand ~ ' between ' ~ literals[0] ~ ' and ' ~ literals[1] -%}
        {%- else -%}
            {%- set sql = operand ~ (' not in (' if op == 'not_in' else ' in (') ~ literals | join(', ') ~ ')' -%}
        {%- endif -%}
    {%- else -%}
        {%- set literal = cdp.segment_literal(ctx, path ~ '.value', value, type_class, what) -%}
        {%- if op == 'contains' -%}
            {%- set sql = dbt.position(literal, operand) ~ ' > 0' -%}
        {%- elif op == 'starts_with' -%}
            {%- set sql = 'substr(' ~ operand ~ ', 1, ' ~ (value | length) ~ ') = ' ~ literal -%}
        {%- else -%}
            {%- set sql = operand ~ ' ' ~ op ~ ' ' ~ literal -%}
        {%- endif -%}
    {%- endif -%}
    {{ return('coalesce(' ~ sql ~ ', false)') }}
{%- endmacro %}

{#- A non-negative whole number of days. -#}
{% macro segment_days(ctx, path, value) -%}
    {%- if value is boolean or value is not number or value != (value | int) or value <= 0 -%}
        {{ cdp.segment_error(ctx, path, "must be a whole number of days above 0, e.g. 30; got " ~ cdp.segment_describe(value)) }}
    {%- endif -%}
    {{ return(value | int) }}
{%- endmacro %}

{#- The rows of profile_events (alias `alias`) an event condition or sequence step selects. -#}
{% macro segment_event_filter(ctx, path, node, alias, allow_window) -%}
    {%- set events = ctx.catalog.events -%}
    {%- set names = [node.event] if node.event is string else node.event -%}
    {%- if names is string or names is mapping or names is not sequence or names | length == 0 -%}
        {{ cdp.segment_error(ctx, path ~ '.event', "name an event (or a list of events); known events: "
                             ~ events.keys() | sort | join(', ')) }}
    {%- endif -%}
    {%- set parts = [] -%}
    {%- set literals = [] -%}
    {%- for name in names -%}
        {%- if name is not string or name not in events -%}
            {{ cdp.segment_error(ctx, path ~ '.event', "unknown event " ~ cdp.segment_quote(name)
                                 ~ "; known events: " ~ events.keys() | sort | join(', ')) }}
        {%- endif -%}
        {%- do literals.append(cdp.sql_string(name)) -%}
    {%- endfor -%}
    {%- do parts.append(alias ~ '.event_name in (' ~ literals | join(', ') ~ ')') -%}
    {%- if 'source' in node -%}
        {%- do parts.append(cdp.segment_comparison(ctx, path ~ '.source', {'op': '=', 'value': node.source},
                                                    alias ~ '.source', 'text', 'source')) -%}
    {%- endif -%}
    {%- set where = node.get('where', []) -%}
    {%- if where is mapping -%}{%- set where = [where] -%}{%- endif -%}
    {%- if where is string or where is not sequence -%}
        {{ cdp.segment_error(ctx, path ~ '.where', "'where' is a list of {property, op, value}") }}
    {%- endif -%}
    {%- for item in where -%}
        {%- set item_path = path ~ '.where[' ~ loop.index0 ~ ']' -%}
        {%- if item is not mapping or 'property' not in item -%}
            {{ cdp.segment_error(ctx, item_path, "each 'where' entry is {property: <name>, op: <op>, value: <v>}") }}
        {%- endif -%}
        {%- for key in item if key not in ['property', 'op', 'value'] -%}
            {{ cdp.segment_error(ctx, item_path ~ '.' ~ key, "unknown key '" ~ key ~ "': a 'where' entry has property, op and value") }}
        {%- endfor -%}
        {%- set property = item.property -%}
        {%- set ns = namespace(type=none) -%}
        {%- for name in names -%}
            {%- set known = events[name] -%}
            {%- if property not in known -%}
                {{ cdp.segment_error(ctx, item_path ~ '.property', "event '" ~ name ~ "' has no property "
                    ~ cdp.segment_quote(property) ~ "; its properties: " ~ (known.keys() | sort | join(', ') or 'none')) }}
            {%- endif -%}
            {%- if ns.type is not none and known[property] != ns.type -%}
                {{ cdp.segment_error(ctx, item_path ~ '.property', "property '" ~ property ~ "' is " ~ ns.type
                    ~ " on one of these events and " ~ known[property] ~ " on '" ~ name ~ "': name one event") }}
            {%- endif -%}
            {%- set ns.type = known[property] -%}
        {%- endfor -%}
        {%- set text = cdp.json_get_string(alias ~ '.properties', property) -%}
        {%- set operand = text if ns.type in ['text', 'boolean'] else dbt.safe_cast(text, 'double' if ns.type == 'number' else ns.type) -%}
        {#- JSON booleans come out as the text 'true' / 'false'. -#}
        {%- if ns.type == 'boolean' -%}
            {%- set bool_node = {'op': item.get('op')} -%}
            {%- if 'value' in item -%}
                {%- if item.value is not boolean and not (item.value is sequence and item.value is not string) -%}
                    {{ cdp.segment_literal(ctx, item_path ~ '.value', item.value, 'boolean', "property '" ~ property ~ "'") }}
                {%- endif -%}
                {%- do bool_node.update({'value': (item.value | string | lower) if item.value is boolean else item.value}) -%}
            {%- endif -%}
            {%- do parts.append(cdp.segment_comparison(ctx, item_path, bool_node, 'lower(' ~ operand ~ ')', 'text', "property '" ~ property ~ "'")) -%}
        {%- else -%}
            {%- do parts.append(cdp.segment_comparison(ctx, item_path, item, operand, ns.type, "property '" ~ property ~ "'")) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if 'within_days' in node and 'between' in node -%}
        {{ cdp.segment_error(ctx, path, "give within_days or between, not both") }}
    {%- endif -%}
    {%- if ('within_days' in node or 'between' in node) and not allow_window -%}
        {{ cdp.segment_error(ctx, path, "a sequence step takes no window: put within_days on the sequence") }}
    {%- endif -%}
    {%- if 'within_days' in node -%}
        {%- set days = cdp.segment_days(ctx, path ~ '.within_days', node.within_days) -%}
        {%- do parts.append(alias ~ '.occurred_at > ' ~ dbt.dateadd('day', -days, cdp.as_of())) -%}
        {%- do parts.append(alias ~ '.occurred_at <= ' ~ cdp.as_of()) -%}
    {%- elif 'between' in node -%}
        {%- set span = node.between -%}
        {%- if span is string or span is mapping or span is not sequence or span | length != 2 -%}
            {{ cdp.segment_error(ctx, path ~ '.between', "needs two dates ['YYYY-MM-DD', 'YYYY-MM-DD'] (first and last day, inclusive)") }}
        {%- endif -%}
        {%- set low = cdp.segment_literal(ctx, path ~ '.between[0]', span[0], 'date', 'between') -%}
        {%- set high = cdp.segment_literal(ctx, path ~ '.between[1]', span[1], 'date', 'between') -%}
        {%- do parts.append(alias ~ '.occurred_at >= cast(' ~ low ~ ' as timestamp)') -%}
        {%- do parts.append(alias ~ '.occurred_at < ' ~ dbt.dateadd('day', 1, 'cast(' ~ high ~ ' as timestamp)')) -%}
    {%- endif -%}
    {{ return('(' ~ parts | join(' and ') ~ ')') }}
{%- endmacro %}

{#- Registers an event counter (shared by identical conditions); returns its column name. -#}
{% macro segment_event_counter(ctx, filter_sql) -%}
    {%- for counter in ctx.event_counters if counter.filter == filter_sql -%}
        {{ return(counter.name) }}
    {%- endfor -%}
    {%- set name = 'event_condition_' ~ (ctx.event_counters | length + 1) -%}
    {%- do ctx.event_counters.append({'name': name, 'filter': filter_sql}) -%}
    {{ return(name) }}
{%- endmacro %}

{#- One node of a rule as a boolean SQL expression that is never null. -#}
{% macro segment_condition(ctx, node, path) -%}
    {%- if node is not mapping -%}
        {{ cdp.segment_error(ctx, path, "a condition is a mapping with one of: " ~ cdp.segment_node_keys().keys() | join(', ')
                             ~ "; got " ~ cdp.segment_describe(node)) }}
    {%- endif -%}
    {%- set kinds = [] -%}
    {%- for kind in cdp.segment_node_keys() if kind in node -%}{%- do kinds.append(kind) -%}{%- endfor -%}
    {%- if kinds | length != 1 -%}
        {{ cdp.segment_error(ctx, path, "a condition has exactly one of: " ~ cdp.segment_node_keys().keys() | join(', ')
                             ~ ("; this one has " ~ kinds | join(' and ') if kinds else "; this one has none (keys: " ~ node.keys() | join(', ') ~ ")")) }}
    {%- endif -%}
    {%- set kind = kinds[0] -%}
    {%- for key in node if key not in cdp.segment_node_keys()[kind] -%}
        {{ cdp.segment_error(ctx, path ~ '.' ~ key, "unknown key '" ~ key ~ "' in a " ~ kind ~ " condition; its keys: "
                             ~ cdp.segment_node_keys()[kind] | join(', ')) }}
    {%- endfor -%}

    {%- if kind in ['all', 'any'] -%}
        {%- set items = node[kind] -%}
        {%- if items is string or items is mapping or items is not sequence or items | length == 0 -%}
            {{ cdp.segment_error(ctx, path ~ '.' ~ kind, "'" ~ kind ~ "' takes a list of one or more conditions") }}
        {%- endif -%}
        {%- set parts = [] -%}
        {%- for item in items -%}
            {%- do parts.append(cdp.segment_condition(ctx, item, path ~ '.' ~ kind ~ '[' ~ loop.index0 ~ ']')) -%}
        {%- endfor -%}
        {{ return('(' ~ parts | join(' and ' if kind == 'all' else ' or ') ~ ')') }}

    {%- elif kind == 'not' -%}
        {{ return('(not ' ~ cdp.segment_condition(ctx, node['not'], path ~ '.not') ~ ')') }}

    {%- elif kind == 'trait' -%}
        {%- set column = node.trait -%}
        {%- set columns = ctx.catalog.columns -%}
        {%- if column is not string or column not in columns -%}
            {%- set near = [] -%}
            {%- for known in columns | sort if column is string and (known[:4] == column[:4] or column in known) -%}
                {%- do near.append(known) -%}
            {%- endfor -%}
            {{ cdp.segment_error(ctx, path ~ '.trait', "unknown trait " ~ cdp.segment_quote(column)
                ~ ": name a column of profiles, profile_traits, profile_rfm or stg_predictions__profile_scores"
                ~ ("; did you mean " ~ near | join(', ') ~ "?" if near else "")) }}
        {%- endif -%}
        {%- set type_class = cdp.segment_type_class(columns[column].data_type) -%}
        {%- if type_class is none -%}
            {{ cdp.segment_error(ctx, path ~ '.trait', "column '" ~ column ~ "' has type " ~ columns[column].data_type
                                 ~ ", which segments cannot compare") }}
        {%- endif -%}
        {%- do ctx.used_columns.append(column) if column not in ctx.used_columns -%}
        {{ return(cdp.segment_comparison(ctx, path, node, 'profile_rows.' ~ column, type_class,
                                         "trait '" ~ column ~ "'")) }}

    {%- elif kind == 'event' -%}
        {%- set filter = cdp.segment_event_filter(ctx, path, node, 'e', true) -%}
        {%- set counter = cdp.segment_event_counter(ctx, filter) -%}
        {%- set count = node.get('count', {'op': '>=', 'value': 1}) -%}
        {%- if count is not mapping -%}
            {{ cdp.segment_error(ctx, path ~ '.count', "count is {op: <op>, value: <n>}, e.g. {op: '>=', value: 3}") }}
        {%- endif -%}
        {%- for key in count if key not in ['op', 'value'] -%}
            {{ cdp.segment_error(ctx, path ~ '.count.' ~ key, "unknown key '" ~ key ~ "': count has op and value") }}
        {%- endfor -%}
        {%- if count.get('op') in ['contains', 'starts_with', 'is_null', 'is_not_null'] -%}
            {{ cdp.segment_error(ctx, path ~ '.count.op', "a count compares with =, !=, >, >=, <, <=, in, not_in or between") }}
        {%- endif -%}
        {{ return(cdp.segment_comparison(ctx, path ~ '.count', count, 'coalesce(event_counts.' ~ counter ~ ', 0)', 'number', 'count')) }}

    {%- elif kind == 'sequence' -%}
        {%- set steps = node.sequence -%}
        {%- if steps is string or steps is mapping or steps is not sequence or steps | length < 2 -%}
            {{ cdp.segment_error(ctx, path ~ '.sequence', "a sequence is a list of two or more event steps, e.g. [{event: Product Viewed}, {event: Product Added}]") }}
        {%- endif -%}
        {%- if 'within_days' not in node -%}
            {{ cdp.segment_error(ctx, path, "a sequence needs within_days: the most days from its first step to its last") }}
        {%- endif -%}
        {%- set days = cdp.segment_days(ctx, path ~ '.within_days', node.within_days) -%}
        {%- set filters = [] -%}
        {%- for step in steps -%}
            {%- set step_path = path ~ '.sequence[' ~ loop.index0 ~ ']' -%}
            {%- if step is not mapping or 'event' not in step -%}
                {{ cdp.segment_error(ctx, step_path, "a sequence step is an event condition: {event: <name>, where: [...]}") }}
            {%- endif -%}
            {%- for key in step if key not in ['event', 'source', 'where', 'within_days', 'between'] -%}
                {{ cdp.segment_error(ctx, step_path ~ '.' ~ key, "unknown key '" ~ key ~ "' in a sequence step; its keys: event, source, where") }}
            {%- endfor -%}
            {%- do filters.append(cdp.segment_event_filter(ctx, step_path, step, 'e', false)) -%}
        {%- endfor -%}
        {%- set ns = namespace(name=none) -%}
        {%- for sequence in ctx.sequences if sequence.steps == filters and sequence.days == days -%}
            {%- set ns.name = sequence.name -%}
        {%- endfor -%}
        {%- if ns.name is none -%}
            {%- set ns.name = 'sequence_' ~ (ctx.sequences | length + 1) -%}
            {%- do ctx.sequences.append({'name': ns.name, 'steps': filters, 'days': days}) -%}
        {%- endif -%}
        {{ return('(' ~ ns.name ~ '.profile_id is not null)') }}

    {%- else -%}
        {%- set other = node.in_segment -%}
        {%- if other is not string or other not in ctx.catalog.segments -%}
            {{ cdp.segment_error(ctx, path ~ '.in_segment', "unknown segment " ~ cdp.segment_quote(other)
                                 ~ "; segments: " ~ ctx.catalog.segments.keys() | sort | join(', ')) }}
        {%- endif -%}
        {%- if other in ctx.stack -%}
            {{ cdp.segment_error(ctx, path ~ '.in_segment', "segments refer to each other in a cycle ("
                                 ~ (ctx.stack + [other]) | join(' -> ') ~ "): remove one of the references") }}
        {%- endif -%}
        {%- set definition = ctx.catalog.segments[other] -%}
        {%- set inner = {'segment': other, 'file': definition.file, 'catalog': ctx.catalog, 'stack': ctx.stack + [other],
                         'event_counters': ctx.event_counters, 'sequences': ctx.sequences, 'used_columns': ctx.used_columns} -%}
        {{ return(cdp.segment_condition(inner, definition.rule, 'rule')) }}
    {%- endif -%}
{%- endmacro %}

{#- Every definition checked and compiled: [{name, condition}], plus what they need. -#}
{% macro segment_compile(names, catalog) -%}
    {%- set compiled = {'segments': [], 'event_counters': [], 'sequences': [], 'used_columns': []} -%}
    {%- for name in names -%}
        {%- set definition = catalog.segments[name] -%}
        {%- set ctx = {'segment': name, 'file': definition.file, 'catalog': catalog, 'stack': [name],
                       'event_counters': compiled.event_counters, 'sequences': compiled.sequences,
                       'used_columns': compiled.used_columns} -%}
        {%- if definition.rule is none -%}
            {{ cdp.segment_error(ctx, 'config.meta.segment', "no rule: give config: {meta: {segment: {rule: {...}}}}") }}
        {%- endif -%}
        {%- do compiled.segments.append({'name': name, 'condition': cdp.segment_condition(ctx, definition.rule, 'rule')}) -%}
    {%- endfor -%}
    {{ return(compiled) }}
{%- endmacro %}

{#-
    The query: (segment_name, profile_id) for each member of the segments `names`.
    relations: each of cdp.segment_models() and profile_events, as SQL relation names.
    Event conditions share one pass over profile_events (a counter per distinct condition);
    each sequence step reads profile_events once more, filtered to its events.
-#}
{% macro segment_membership_sql(names, catalog, relations) -%}
    {%- set compiled = cdp.segment_compile(names, catalog) -%}
    {%- set aliases = cdp.segment_models() -%}
    {%- set joined = [] -%}
    {%- for column in compiled.used_columns -%}
        {%- set model = catalog.columns[column].model -%}
        {%- do joined.append(model) if model != 'profiles' and model not in joined -%}
    {%- endfor -%}
with

profile_rows as (

    select
        p.profile_id
        {%- for column in compiled.used_columns %},
        {{ catalog.columns[column].alias }}.{{ column }}
        {%- endfor %}
    from {{ relations.profiles }} as p
    {%- for model in joined %}
    left join {{ relations[model] }} as {{ aliases[model] }} on p.profile_id = {{ aliases[model] }}.profile_id
    {%- endfor %}

),
{%- if compiled.event_counters %}

event_counts as (

    select
        e.profile_id
        {%- for counter in compiled.event_counters %},
        count(case when {{ counter.filter }} then 1 end) as {{ counter.name }}
        {%- endfor %}
    from {{ relations.profile_events }} as e
    where
        e.profile_id is not null
        and (
            {%- for counter in compiled.event_counters %}
            {{ "or " if not loop.first }}{{ counter.filter }}
            {%- endfor %}
        )
    group by e.profile_id

),
{%- endif %}
{%- for sequence in compiled.sequences %}
{%- set seq = sequence.name %}
{%- for filter in sequence.steps %}

{{ seq }}_step_{{ loop.index }} as (

    select
        e.profile_id,
        e.occurred_at
    from {{ relations.profile_events }} as e
    where e.profile_id is not null and {{ filter }}

),
{%- if loop.first %}

{{ seq }}_chain_1 as (

    select
        profile_id,
        occurred_at,
        occurred_at as started_at
    from {{ seq }}_step_1

),
{%- else %}

{#- For each step-n event: the latest start of a chain that reached step n-1 strictly
    earlier (rows of equal time sort the event first, so they do not count). #}
{{ seq }}_chain_{{ loop.index }} as (

    select
        profile_id,
        occurred_at,
        started_at
    from (
        select
            profile_id,
            occurred_at,
            is_step,
            max(started_at) over (
                partition by profile_id order by occurred_at, is_step desc
                rows between unbounded preceding and current row
            ) as started_at
        from (
            select
                profile_id,
                occurred_at,
                cast(null as timestamp) as started_at,
                1 as is_step
            from {{ seq }}_step_{{ loop.index }}
            union all
            select
                profile_id,
                occurred_at,
                started_at,
                0 as is_step
            from {{ seq }}_chain_{{ loop.index - 1 }}
        ) as candidates
    ) as carried
    where is_step = 1 and occurred_at <= {{ dbt.dateadd('day', sequence.days, 'started_at') }}

),
{%- endif %}
{%- endfor %}

{{ seq }} as (

    select distinct profile_id
    from {{ seq }}_chain_{{ sequence.steps | length }}

),
{%- endfor %}

evaluated as (

    select
        profile_rows.profile_id
        {%- for segment in compiled.segments %},
        {{ segment.condition }} as is_in_segment_{{ loop.index }}
        {%- endfor %}
    from profile_rows
    {%- if compiled.event_counters %}
    left join event_counts on profile_rows.profile_id = event_counts.profile_id
    {%- endif %}
    {%- for sequence in compiled.sequences %}
    left join {{ sequence.name }} on profile_rows.profile_id = {{ sequence.name }}.profile_id
    {%- endfor %}

),

memberships as (
    {%- for segment in compiled.segments %}

    {{ "union all" if not loop.first }}
    select
        {{ cdp.sql_string(segment.name) }} as segment_name,
        profile_id
    from evaluated
    where is_in_segment_{{ loop.index }}
    {%- endfor %}
    {%- if not compiled.segments %}

    select
        cast(null as varchar) as segment_name,
        cast(null as varchar) as profile_id
    where false
    {%- endif %}

)

select * from memberships
{%- endmacro %}
