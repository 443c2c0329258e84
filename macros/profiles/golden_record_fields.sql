{#
    The golden-record field configuration (seeds/profiles/golden_record_fields.csv), read
    when a model runs. Field names become SQL literals and JSON keys: they must be
    snake_case, checked here so that a bad seed row fails the build with its name.
#}
{% macro golden_record_field_rows() -%}
    {#- (ref outside the execute guard: the calling model depends on the seed) -#}
    {%- set seed = ref('golden_record_fields') -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {#- (Not loaded - only when compiling without a warehouse, e.g. the linter: every model
        that reads these rows also joins the seed, so a real run without it fails loudly.) -#}
    {%- if load_relation(seed) is none -%}{{ return([]) }}{%- endif -%}
    {%- set rows = run_query("select field, rule, custom_sources from " ~ seed ~ " order by field") -%}
    {%- set result = [] -%}
    {%- for row in rows -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]*$', row[0] or '') -%}
            {{ exceptions.raise_compiler_error("seeds/profiles/golden_record_fields.csv: field '" ~ row[0]
                ~ "' is not a snake_case name (letters, digits, underscores; starting with a letter); rename it") }}
        {%- endif -%}
        {%- do result.append({'field': row[0], 'rule': row[1], 'custom_sources': (row[2] or '').split()}) -%}
    {%- endfor -%}
    {{ return(result) }}
{%- endmacro %}

{% macro golden_record_custom_fields() -%}
    {%- set fields = [] -%}
    {%- for row in cdp.golden_record_field_rows() if row.custom_sources -%}
        {%- do fields.append(row.field) -%}
    {%- endfor -%}
    {{ return(fields) }}
{%- endmacro %}

{#-
    Post-hook of the incremental int_profile_field_survivors and profile_field_provenance:
    delete the golden values of the profiles that lost every input (int_profile_field_changes
    rows with no inputs: absorbed by a merge, or forgotten). delete+insert only replaces the
    profiles it has new rows for.
-#}
{% macro profile_fields_drop_vanished() -%}
    delete from {{ this }}
    where profile_id in (select profile_id from {{ ref('int_profile_field_changes') }} where input_count is null)
{%- endmacro %}
