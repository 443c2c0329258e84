{#- Snowflake masking policies from the columns' classifications (docs/pii.md).
    on-run-start creates (or updates) one policy per masked level and data type in schema
    var('pii_policy_schema', 'governance'); each model's post-hook attaches them to its
    classified columns. Both are no-ops on other adapters and when
    var('apply_masking_policies', true) is false. -#}

{% macro pii_masked_levels() %}
    {#- Levels that get a policy; public and internal columns are readable by whoever can read the table. -#}
    {{ return(['confidential', 'restricted']) }}
{% endmacro %}


{% macro pii_policy_types() %}
    {#- Policy signature type (a policy only attaches to columns of its own type) for each
        Snowflake column type. Columns of other types (arrays, objects, binary) are not masked. -#}
    {{ return({
        'string': ['VARCHAR', 'TEXT', 'STRING', 'CHAR', 'CHARACTER'],
        'number': ['NUMBER', 'DECIMAL', 'NUMERIC', 'INT', 'INTEGER', 'BIGINT', 'SMALLINT', 'TINYINT', 'BYTEINT'],
        'float': ['FLOAT', 'FLOAT4', 'FLOAT8', 'DOUBLE', 'DOUBLE PRECISION', 'REAL'],
        'date': ['DATE'],
        'timestamp_ntz': ['TIMESTAMP_NTZ', 'TIMESTAMP', 'DATETIME'],
        'timestamp_tz': ['TIMESTAMP_TZ'],
        'timestamp_ltz': ['TIMESTAMP_LTZ'],
        'boolean': ['BOOLEAN'],
        'variant': ['VARIANT'],
    }) }}
{% endmacro %}


{% macro pii_policy_type(data_type) %}
    {%- set base = (data_type or '') | upper | trim -%}
    {%- set base = base.split('(')[0] | trim -%}
    {%- for policy_type, column_types in cdp.pii_policy_types().items() -%}
        {%- if base in column_types -%}{{ return(policy_type) }}{%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}


{% macro pii_masking_enabled() %}
    {%- set enabled = var('apply_masking_policies', true) -%}
    {{ return(target.type == 'snowflake' and enabled not in [false, 'false', 'False', 0, '0']) }}
{% endmacro %}


{% macro pii_unmasked_roles(level) %}
    {#- Roles that read `level` in clear. The role dbt builds with is always among them: it
        reads staging and intermediate columns to build the next model, and masked values
        there would silently become masked golden records. The syncs connect with it too. -#}
    {%- set roles = [] -%}
    {%- if target.role -%}{%- do roles.append(target.role | upper) -%}{%- endif -%}
    {%- set configured = var('pii_unmasked_roles', []) | list -%}
    {%- if level == 'confidential' -%}
        {%- set configured = configured + (var('pii_confidential_roles', []) | list) -%}
    {%- endif -%}
    {%- for role in configured if (role | upper) not in roles -%}{%- do roles.append(role | upper) -%}{%- endfor -%}
    {{ return(roles) }}
{% endmacro %}


{% macro pii_policy_name(level, policy_type) %}
    {{ return(target.database ~ '.' ~ var('pii_policy_schema', 'governance') ~ '.pii_' ~ level ~ '_' ~ policy_type) }}
{% endmacro %}


{% macro pii_policy_body(level, policy_type) %}
    {#- restricted: a constant for text, null otherwise. confidential: text becomes its SHA-256
        (equal values stay equal, so counts and joins still work), other types null. -#}
    {%- set roles = cdp.pii_unmasked_roles(level) -%}
    {%- set checks = [] -%}
    {%- for role in roles -%}{%- do checks.append("is_role_in_session('" ~ (role | replace("'", "")) ~ "')") -%}{%- endfor -%}
    {%- set unmasked = checks | join(' or ') if checks else 'false' -%}
    {%- if policy_type == 'string' -%}
        {%- set masked = "'***" ~ level ~ "***'" if level == 'restricted' else 'sha2(val, 256)' -%}
    {%- else -%}
        {%- set masked = 'null' -%}
    {%- endif -%}
    {{ return('case when ' ~ unmasked ~ ' then val else ' ~ masked ~ ' end') }}
{% endmacro %}


{% macro masking_policy_ddl() %}
    {#- The statements that create or update every policy (a policy that exists keeps its
        attachments; its body is replaced, so a change of roles takes effect at once). -#}
    {%- set statements = ['create schema if not exists ' ~ target.database ~ '.' ~ var('pii_policy_schema', 'governance')] -%}
    {%- for level in cdp.pii_masked_levels() -%}
        {%- for policy_type in cdp.pii_policy_types() -%}
            {%- set name = cdp.pii_policy_name(level, policy_type) -%}
            {%- set body = cdp.pii_policy_body(level, policy_type) -%}
            {%- do statements.append('create masking policy if not exists ' ~ name ~ ' as (val ' ~ policy_type
                                     ~ ') returns ' ~ policy_type ~ ' -> ' ~ body
                                     ~ " comment = 'PII level " ~ level ~ " (docs/pii.md)'") -%}
            {%- do statements.append('alter masking policy ' ~ name ~ ' set body -> ' ~ body) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}


{% macro masking_policy_assignments(relation, relation_kind, columns, classifications) %}
    {#- `alter table|view ... modify column ... set masking policy ... force` for each column
        whose classification is masked. columns: [{name, data_type}] as the warehouse has them;
        classifications: {lower-case column name: level}. force replaces a policy already
        attached (incremental tables keep theirs between runs). -#}
    {%- set statements = [] -%}
    {%- for column in columns -%}
        {%- set level = classifications.get(column.name | lower) -%}
        {%- set policy_type = cdp.pii_policy_type(column.data_type) -%}
        {%- if level in cdp.pii_masked_levels() and policy_type -%}
            {%- do statements.append('alter ' ~ relation_kind ~ ' ' ~ relation ~ ' modify column '
                                     ~ adapter.quote(column.name) ~ ' set masking policy '
                                     ~ cdp.pii_policy_name(level, policy_type) ~ ' force') -%}
        {%- elif level in cdp.pii_masked_levels() -%}
            {%- do log('PII: ' ~ relation ~ '.' ~ column.name ~ ' is ' ~ level ~ ' but of type ' ~ column.data_type
                       ~ ', which no policy covers; it is not masked', info=true) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}


{% macro node_classifications(node) %}
    {%- set found = {} -%}
    {%- for column in node.columns.values() -%}
        {%- set level = cdp.pii_classification(column) -%}
        {%- if level -%}{%- do found.update({column.name | lower: level}) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}


{% macro create_masking_policies() %}
    {#- on-run-start. Runs its statements and returns no SQL. -#}
    {{ return(adapter.dispatch('create_masking_policies', 'cdp')()) }}
{% endmacro %}

{% macro default__create_masking_policies() %}
    {{ return('') }}
{% endmacro %}

{% macro snowflake__create_masking_policies() %}
    {%- if execute and cdp.pii_masking_enabled() -%}
        {%- for statement in cdp.masking_policy_ddl() -%}
            {%- do run_query(statement) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}


{% macro apply_masking_policies() %}
    {#- A model's post-hook. Runs its statements and returns no SQL. -#}
    {{ return(adapter.dispatch('apply_masking_policies', 'cdp')()) }}
{% endmacro %}

{% macro default__apply_masking_policies() %}
    {{ return('') }}
{% endmacro %}

{% macro snowflake__apply_masking_policies() %}
    {%- if execute and cdp.pii_masking_enabled() and model.resource_type == 'model'
            and model.config.materialized != 'ephemeral' -%}
        {%- set classifications = cdp.node_classifications(model) -%}
        {%- set masked = [] -%}
        {%- for level in classifications.values() if level in cdp.pii_masked_levels() -%}{%- do masked.append(level) -%}{%- endfor -%}
        {%- if masked -%}
            {%- set columns = [] -%}
            {%- for column in adapter.get_columns_in_relation(this) -%}
                {%- do columns.append({'name': column.name, 'data_type': column.dtype}) -%}
            {%- endfor -%}
            {%- set kind = 'view' if model.config.materialized == 'view' else 'table' -%}
            {%- for statement in cdp.masking_policy_assignments(this, kind, columns, classifications) -%}
                {%- do run_query(statement) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}
