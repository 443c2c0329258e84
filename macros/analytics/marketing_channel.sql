{#
    The marketing channel of a session from its landing UTM parameters and referrer, by the
    ordered rules in var('analytics_channel_rules') (dbt_project.yml): the first rule whose
    every condition holds names the channel; a session no rule matches is
    var('analytics_default_channel', 'direct'). A rule is a mapping with `channel` and one or
    more conditions: `utm_medium` / `utm_source` (lists of values, compared lowercased) and
    `referrer_like` (list of LIKE patterns on the lowercased referrer). The rules are read at
    compile time, so the CASE expression costs nothing per row beyond the comparisons.
#}
{% macro marketing_channel(utm_source, utm_medium, referrer) -%}
    {%- set rules = var('analytics_channel_rules', []) -%}
    {%- set columns = {'utm_source': utm_source, 'utm_medium': utm_medium} -%}
    {%- set where = "var('analytics_channel_rules') in dbt_project.yml" -%}
    {%- if rules is string or rules is mapping or rules is not iterable -%}
        {{ exceptions.raise_compiler_error(where ~ ": expected a list of rules such as "
            ~ "[{channel: email, utm_medium: [email]}], got " ~ rules) }}
    {%- endif -%}
    case
    {%- for rule in rules %}
        {%- set position = where ~ ", rule " ~ loop.index -%}
        {%- if rule is not mapping or not rule.get('channel') -%}
            {{ exceptions.raise_compiler_error(position ~ ": each rule needs a `channel` name, got " ~ rule) }}
        {%- endif -%}
        {%- set unknown = rule.keys() | reject('in', ['channel', 'utm_source', 'utm_medium', 'referrer_like']) | list -%}
        {%- if unknown -%}
            {{ exceptions.raise_compiler_error(position ~ " (" ~ rule['channel'] ~ "): unknown key(s) "
                ~ unknown | join(', ') ~ "; use utm_source, utm_medium (value lists) or referrer_like (LIKE patterns)") }}
        {%- endif -%}
        {%- set conditions = [] -%}
        {%- for key in ['utm_source', 'utm_medium', 'referrer_like'] if key in rule -%}
            {%- set values = rule[key] -%}
            {%- if values is string or values is not iterable or values | length == 0 -%}
                {{ exceptions.raise_compiler_error(position ~ " (" ~ rule['channel'] ~ "): `" ~ key
                    ~ "` must be a non-empty list, e.g. " ~ key ~ ": [" ~ (values or 'value') ~ "]") }}
            {%- endif -%}
            {%- if key == 'referrer_like' -%}
                {%- set alternatives = [] -%}
                {%- for pattern in values -%}
                    {%- do alternatives.append('lower(' ~ referrer ~ ') like ' ~ cdp.sql_string(pattern | lower)) -%}
                {%- endfor -%}
                {%- do conditions.append('(' ~ alternatives | join(' or ') ~ ')') -%}
            {%- else -%}
                {%- set literals = [] -%}
                {%- for value in values -%}{%- do literals.append(cdp.sql_string(value | string | lower)) -%}{%- endfor -%}
                {%- do conditions.append('lower(' ~ columns[key] ~ ') in (' ~ literals | join(', ') ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if not conditions -%}
            {{ exceptions.raise_compiler_error(position ~ " (" ~ rule['channel'] ~ "): no condition; add "
                ~ "utm_source, utm_medium or referrer_like (a catch-all is analytics_default_channel)") }}
        {%- endif %}
        when {{ conditions | join(' and ') }} then {{ cdp.sql_string(rule['channel']) }}
    {%- endfor %}
        else {{ cdp.sql_string(var('analytics_default_channel', 'direct')) }}
    end
{%- endmacro %}
