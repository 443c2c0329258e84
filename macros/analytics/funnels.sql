{#
    The funnel compiler: funnel definitions (funnels/*.yml, each an exposure whose
    config.meta.funnel holds ordered `steps` and a conversion window) become the SQL of
    funnel_steps_daily. Each step is an event condition of the segment grammar
    ({event, source, where}; macro segment_event_filter), so values are escaped literals
    and events and properties are checked against the event catalog of profile_events.
    Anything it cannot compile fails with the funnel's file, the path inside it and the fix.

    Semantics (docs/analytics.md, "Funnels"): a profile enters a funnel on a day with its
    first step-1 event of that day (UTC); each later step is the earliest matching event
    strictly after the previous step's and at most the window after the step-1 event.
    So a profile counts at most once per funnel and activity_date.

    A dbt unit test compiles a model without the project graph: it passes the definitions
    in var('funnel_definitions_for_unit_tests') ({name: {file, funnel}}) and the events in
    var('segment_catalog_for_unit_tests').
#}

{#- Every declared funnel: {name: {'file': path, 'funnel': spec}}. -#}
{% macro funnel_definitions() -%}
    {%- set override = var('funnel_definitions_for_unit_tests', none) -%}
    {%- if override -%}{{ return(override) }}{%- endif -%}
    {%- set found = {} -%}
    {%- for exposure in graph.exposures.values() if exposure.package_name == project_name -%}
        {%- set meta = (exposure.get('config') or {}).get('meta') or exposure.get('meta') or {} -%}
        {%- if 'funnel' in meta -%}
            {%- do found.update({exposure.name: {'file': exposure.original_file_path, 'funnel': meta.funnel}}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}

{#- One funnel checked: {name, steps: [{name, filter}], window: {part, amount}}, or a clear error. -#}
{% macro funnel_compile(name, definition, events) -%}
    {%- set ctx = {'kind': 'funnel', 'segment': name, 'file': definition.file, 'catalog': {'events': events}} -%}
    {%- set spec = definition.funnel -%}
    {%- if not modules.re.match('^[a-z][a-z0-9_]*$', name) -%}
        {{ cdp.segment_error(ctx, 'name', "funnel names are snake_case (lower-case letters, digits, underscores)") }}
    {%- endif -%}
    {%- if spec is not mapping -%}
        {{ cdp.segment_error(ctx, 'config.meta.funnel', "must be a mapping with 'steps' and 'window_days' (or "
                             ~ "'window_hours'), e.g. {steps: [{event: Product Viewed}, {event: Order Completed}], window_days: 7}") }}
    {%- endif -%}
    {%- for key in spec if key not in ['steps', 'window_days', 'window_hours'] -%}
        {{ cdp.segment_error(ctx, 'funnel.' ~ key, "unknown key '" ~ key ~ "': a funnel has steps and window_days or window_hours") }}
    {%- endfor -%}
    {%- set windows = [] -%}
    {%- for key in ['window_days', 'window_hours'] if key in spec -%}{%- do windows.append(key) -%}{%- endfor -%}
    {%- if windows | length != 1 -%}
        {{ cdp.segment_error(ctx, 'funnel', "give the conversion window as window_days or window_hours (one of them), "
                             ~ "e.g. window_days: 7: how long after step 1 the last step may happen") }}
    {%- endif -%}
    {%- set amount = spec[windows[0]] -%}
    {%- if amount is boolean or amount is not number or amount != (amount | int) or amount <= 0 -%}
        {{ cdp.segment_error(ctx, 'funnel.' ~ windows[0], "must be a whole number above 0, e.g. 7; got "
                             ~ cdp.segment_describe(amount)) }}
    {%- endif -%}
    {%- set steps = spec.get('steps') -%}
    {%- if steps is none or steps is string or steps is mapping or steps is not sequence or steps | length < 2 -%}
        {{ cdp.segment_error(ctx, 'funnel.steps', "a funnel needs a list of two or more steps, e.g. "
                             ~ "[{event: Product Viewed}, {event: Order Completed}]") }}
    {%- endif -%}
    {%- set compiled = [] -%}
    {%- set names = [] -%}
    {%- for step in steps -%}
        {%- set path = 'funnel.steps[' ~ loop.index0 ~ ']' -%}
        {%- if step is not mapping or 'event' not in step -%}
            {{ cdp.segment_error(ctx, path, "a step is {event: <name>} with optional name, source and where, e.g. "
                                 ~ "{name: product_added, event: Product Added}") }}
        {%- endif -%}
        {%- for key in step if key not in ['name', 'event', 'source', 'where'] -%}
            {{ cdp.segment_error(ctx, path ~ '.' ~ key, "unknown key '" ~ key ~ "' in a step; its keys: name, event, source, where"
                                 ~ ("; the window belongs to the funnel (window_days)" if key in ['within_days', 'window_days'] else "")) }}
        {%- endfor -%}
        {%- set filter = cdp.segment_event_filter(ctx, path, step, 'e', false) -%}
        {%- set default_name = (step.event if step.event is string else step.event | join('_or_')) | lower
                               | replace(' ', '_') -%}
        {%- set step_name = step.get('name', default_name) -%}
        {%- if step_name is not string or not modules.re.match('^[a-z][a-z0-9_]*$', step_name) -%}
            {{ cdp.segment_error(ctx, path ~ '.name', "step names are snake_case, e.g. product_added; got "
                                 ~ cdp.segment_describe(step_name)) }}
        {%- endif -%}
        {%- if step_name in names -%}
            {{ cdp.segment_error(ctx, path ~ '.name', "step name '" ~ step_name ~ "' is used twice: give each step its own name") }}
        {%- endif -%}
        {%- do names.append(step_name) -%}
        {%- do compiled.append({'name': step_name, 'filter': filter}) -%}
    {%- endfor -%}
    {{ return({'name': name, 'steps': compiled,
               'window': {'part': 'day' if windows[0] == 'window_days' else 'hour', 'amount': amount | int}}) }}
{%- endmacro %}

{#- Every declared funnel compiled, sorted by name. -#}
{% macro funnel_compile_all() -%}
    {%- set definitions = cdp.funnel_definitions() -%}
    {%- set events = cdp.segment_catalog().events if definitions else {} -%}
    {%- set compiled = [] -%}
    {%- for name in definitions | sort -%}
        {%- do compiled.append(cdp.funnel_compile(name, definitions[name], events)) -%}
    {%- endfor -%}
    {{ return(compiled) }}
{%- endmacro %}
