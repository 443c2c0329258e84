{#
    Audiences: who is sent to a channel. Each is an exposure in segments/audiences/*.yml whose
    config.meta.audience says:
      segments:        [name, ...]   members of any of these segments, or
      lookalike:       {seed_segment, size, traits: [numeric columns]}
      channel:         email | sms | ads   (the consent it requires and the identifiers it gets)
      suppress:        {segments: [...], lists: [...]}   (lists: list_name in seed suppression_lists)
      holdout_percent: 0-100 (optional; a deterministic share kept out for measurement)
      priority_group:  name (optional) and priority: 1 = highest; a profile lands only in the
                       highest-priority audience of a group it qualifies for.
    audience_catalog() checks all of it and fails with the file, the key and the fix.
#}

{% macro audience_error(audience, key, message) -%}
    {{ exceptions.raise_compiler_error(audience.file ~ ": audience '" ~ audience.name ~ "', at config.meta.audience"
                                       ~ ('.' ~ key if key else '') ~ ": " ~ message) }}
{%- endmacro %}

{% macro audience_channels() -%}
    {{ return(['email', 'sms', 'ads']) }}
{%- endmacro %}

{% macro audience_name_list(audience, key, value, known, what) -%}
    {%- if value is string -%}{%- set value = [value] -%}{%- endif -%}
    {%- if value is mapping or value is not sequence -%}
        {{ cdp.audience_error(audience, key, "give a list of " ~ what ~ " names") }}
    {%- endif -%}
    {%- for name in value if name not in known -%}
        {{ cdp.audience_error(audience, key, "unknown " ~ what ~ " '" ~ name ~ "'; known: " ~ (known | sort | join(', ') or 'none')) }}
    {%- endfor -%}
    {{ return(value | list) }}
{%- endmacro %}

{#- The audiences declared in the project (or var('audience_catalog_for_unit_tests')), checked. -#}
{% macro audience_catalog(segment_catalog, suppression_lists) -%}
    {%- set declared = var('audience_catalog_for_unit_tests', none) -%}
    {%- if declared is none -%}
        {%- set declared = [] -%}
        {%- for exposure in graph.exposures.values() | sort(attribute='name') if exposure.package_name == project_name -%}
            {%- set meta = (exposure.get('config') or {}).get('meta') or exposure.get('meta') or {} -%}
            {%- if 'audience' in meta -%}
                {%- do declared.append({'name': exposure.name, 'file': exposure.original_file_path, 'spec': meta.audience}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set audiences = [] -%}
    {%- for entry in declared -%}
        {%- set audience = {'name': entry.name, 'file': entry.get('file', 'unit test')} -%}
        {%- set spec = entry.spec -%}
        {%- if spec is not mapping -%}{{ cdp.audience_error(audience, none, "must be a mapping") }}{%- endif -%}
        {%- for key in spec if key not in ['segments', 'lookalike', 'channel', 'suppress', 'holdout_percent', 'priority_group', 'priority'] -%}
            {{ cdp.audience_error(audience, key, "unknown key; an audience has segments or lookalike, channel, suppress, holdout_percent, priority_group, priority") }}
        {%- endfor -%}
        {%- if ('segments' in spec) == ('lookalike' in spec) -%}
            {{ cdp.audience_error(audience, none, "give either segments: [...] or lookalike: {seed_segment, size, traits}") }}
        {%- endif -%}
        {%- if spec.get('channel') not in cdp.audience_channels() -%}
            {{ cdp.audience_error(audience, 'channel', "channel is one of " ~ cdp.audience_channels() | join(', ')) }}
        {%- endif -%}
        {%- do audience.update({'channel': spec.channel}) -%}
        {%- if 'segments' in spec -%}
            {%- do audience.update({'segments': cdp.audience_name_list(audience, 'segments', spec.segments, segment_catalog.segments.keys() | list, 'segment')}) -%}
        {%- else -%}
            {%- set lookalike = spec.lookalike -%}
            {%- if lookalike is not mapping or lookalike.get('seed_segment') not in segment_catalog.segments -%}
                {{ cdp.audience_error(audience, 'lookalike.seed_segment', "name the segment to look like; segments: " ~ segment_catalog.segments.keys() | sort | join(', ')) }}
            {%- endif -%}
            {%- if lookalike.get('size') is not number or lookalike.size is boolean or lookalike.size < 1 or lookalike.size != lookalike.size | int -%}
                {{ cdp.audience_error(audience, 'lookalike.size', "how many profiles to publish: a whole number above 0") }}
            {%- endif -%}
            {%- set traits = lookalike.get('traits') -%}
            {%- if traits is string or traits is mapping or traits is not sequence or traits | length == 0 -%}
                {{ cdp.audience_error(audience, 'lookalike.traits', "list the numeric traits to compare on, e.g. [lifetime_value, order_count]") }}
            {%- endif -%}
            {%- for trait in traits -%}
                {%- if trait not in segment_catalog.columns or cdp.segment_type_class(segment_catalog.columns[trait].data_type) != 'number' -%}
                    {{ cdp.audience_error(audience, 'lookalike.traits', "'" ~ trait ~ "' is not a numeric column of profiles, profile_traits, profile_rfm or stg_predictions__profile_scores") }}
                {%- endif -%}
            {%- endfor -%}
            {%- do audience.update({'lookalike': {'seed_segment': lookalike.seed_segment, 'size': lookalike.size | int, 'traits': traits | list}}) -%}
        {%- endif -%}
        {%- set suppress = spec.get('suppress') or {} -%}
        {%- if suppress is not mapping -%}{{ cdp.audience_error(audience, 'suppress', "give {segments: [...], lists: [...]}") }}{%- endif -%}
        {%- for key in suppress if key not in ['segments', 'lists'] -%}
            {{ cdp.audience_error(audience, 'suppress.' ~ key, "unknown key; suppress has segments and lists") }}
        {%- endfor -%}
        {%- do audience.update({
            'suppress_segments': cdp.audience_name_list(audience, 'suppress.segments', suppress.get('segments', []), segment_catalog.segments.keys() | list, 'segment'),
            'suppress_lists': cdp.audience_name_list(audience, 'suppress.lists', suppress.get('lists', []),
                                                     suppress.get('lists', []) if suppression_lists is none else suppression_lists, 'suppression list')}) -%}
        {%- set holdout = spec.get('holdout_percent', 0) -%}
        {%- if holdout is boolean or holdout is not number or holdout < 0 or holdout >= 100 -%}
            {{ cdp.audience_error(audience, 'holdout_percent', "a number from 0 up to (not including) 100") }}
        {%- endif -%}
        {%- do audience.update({'holdout_basis_points': (holdout * 100) | round | int}) -%}
        {%- if 'priority' in spec and 'priority_group' not in spec -%}
            {{ cdp.audience_error(audience, 'priority', "a priority only means something within a priority_group") }}
        {%- endif -%}
        {%- if 'priority_group' in spec -%}
            {%- if spec.priority_group is not string or not modules.re.match('^[a-z][a-z0-9_]*$', spec.priority_group) -%}
                {{ cdp.audience_error(audience, 'priority_group', "a snake_case name") }}
            {%- endif -%}
            {%- if spec.get('priority') is not number or spec.priority is boolean or spec.priority != spec.priority | int -%}
                {{ cdp.audience_error(audience, 'priority', "a whole number; 1 is the highest priority") }}
            {%- endif -%}
        {%- endif -%}
        {%- do audience.update({'priority_group': spec.get('priority_group'), 'priority': spec.get('priority', 0) | int}) -%}
        {%- do audiences.append(audience) -%}
    {%- endfor -%}
    {%- set seen = {} -%}
    {%- for audience in audiences if audience.priority_group -%}
        {%- set key = audience.priority_group ~ '/' ~ audience.priority -%}
        {%- if key in seen -%}
            {{ cdp.audience_error(audience, 'priority', "audience '" ~ seen[key] ~ "' has the same priority in group '"
                                  ~ audience.priority_group ~ "': give each audience of a group its own priority") }}
        {%- endif -%}
        {%- do seen.update({key: audience.name}) -%}
    {%- endfor -%}
    {{ return(audiences) }}
{%- endmacro %}
