{#
    Normalisers for identifiers. Each renders a SQL expression; engine differences live
    in the dispatched helpers below them. Rules that are configuration (Gmail dot folding,
    +tag stripping, domain corrections, phone country codes) come from vars and seeds.
#}

{#- An email trimmed, lower-cased, without inner spaces; null unless it looks like an address. -#}
{% macro clean_email(expression) -%}
    case
        when {{ cdp.regex_full_match("replace(lower(trim(" ~ expression ~ ")), ' ', '')",
                                     "[a-z0-9._%+-]+@[a-z0-9-]+([.][a-z0-9-]+)*[.][a-z]{2,}") }}
            then replace(lower(trim({{ expression }})), ' ', '')
    end
{%- endmacro %}

{#-
    The address an email identifier is compared by: the local part without its +tag
    (var identity_email_strip_plus_tags) and, for Gmail, without dots
    (var identity_email_fold_gmail_dots), both of which the provider ignores.
-#}
{% macro fold_email(local_part, domain) -%}
    {%- set ns = namespace(local=local_part) -%}
    {%- if var('identity_email_strip_plus_tags', true) -%}
        {%- set ns.local = "split_part(" ~ ns.local ~ ", '+', 1)" -%}
    {%- endif -%}
    {%- if var('identity_email_fold_gmail_dots', true) -%}
        {%- set ns.local = "case when " ~ domain ~ " = 'gmail.com' then replace(" ~ ns.local ~ ", '.', '') else "
                           ~ ns.local ~ " end" -%}
    {%- endif -%}
    {{ ns.local }} || '@' || {{ domain }}
{%- endmacro %}

{#- Digits of a phone number, keeping a leading + (international form). -#}
{% macro phone_digits(expression) -%}
    case
        when trim({{ expression }}) like '+%'
            then '+' || {{ cdp.regexp_replace_all(expression, '[^0-9]', '') }}
        else {{ cdp.regexp_replace_all(expression, '[^0-9]', '') }}
    end
{%- endmacro %}

{#- A person's name part for comparison: lower case, letters, spaces, hyphens and apostrophes only. -#}
{% macro normalize_name(expression) -%}
    nullif(trim({{ cdp.regexp_replace_all("lower(" ~ expression ~ ")", "[^a-z '-]", '') }}), '')
{%- endmacro %}

{#- Postcodes: upper case without spaces; US ZIP+4 cut to the five-digit ZIP. -#}
{% macro normalize_postcode(expression, country_expression) -%}
    case
        when {{ country_expression }} = 'US' then nullif(left({{ cdp.regexp_replace_all(expression, '[^0-9]', '') }}, 5), '')
        else nullif(upper({{ cdp.regexp_replace_all(expression, '[^A-Za-z0-9]', '') }}), '')
    end
{%- endmacro %}

{#-
    A street line for comparison: lower case, punctuation and unit (apartment) removed,
    common suffixes abbreviated (street -> st, avenue -> ave, ...). Words are matched
    between spaces rather than with regex word boundaries, which engines spell differently.
-#}
{% macro normalize_street(expression) -%}
    {%- set s = "lower(" ~ expression ~ ")" -%}
    {%- set s = cdp.regexp_replace_all(s, "(,|#| apt| unit| suite).*$", "") -%}
    {%- set ns = namespace(s="' ' || " ~ cdp.regexp_replace_all(s, "[^a-z0-9]+", " ") ~ " || ' '") -%}
    {%- for full, short in [("street", "st"), ("avenue", "ave"), ("road", "rd"), ("drive", "dr"), ("lane", "ln"),
                            ("court", "ct"), ("boulevard", "blvd"), ("place", "pl"), ("terrace", "ter")] -%}
        {%- set ns.s = "replace(" ~ ns.s ~ ", ' " ~ full ~ " ', ' " ~ short ~ " ')" -%}
    {%- endfor -%}
    nullif(trim({{ ns.s }}), '')
{%- endmacro %}

{#- Whether a string matches a regular expression as a whole. -#}
{% macro regex_full_match(expression, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match', 'cdp')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regex_full_match(expression, pattern) -%}
    regexp_like({{ expression }}, '^{{ pattern }}$')
{%- endmacro %}

{% macro duckdb__regex_full_match(expression, pattern) -%}
    regexp_full_match({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{#- A string value out of a JSON object held as text. -#}
{% macro json_get_string(expression, key) -%}
    {{ return(adapter.dispatch('json_get_string', 'cdp')(expression, key)) }}
{%- endmacro %}

{% macro default__json_get_string(expression, key) -%}
    json_extract_string({{ expression }}, '$.{{ key }}')
{%- endmacro %}

{% macro snowflake__json_get_string(expression, key) -%}
    try_parse_json({{ expression }}):{{ key }}::varchar
{%- endmacro %}
