{#-
    dbt's `where` config of generic tests (dbt's own get_where_subquery, which a root project
    macro of this name replaces: "where", Custom logic, in dbt's docs), with one addition:
    hourly runs test the new rows of the big tables, the daily checks every row.

    A table names the column that says when each row was written or loaded, in its YAML:
    `config: {meta: {cdp_new_rows: attributed_at}}` for a build's own stamp (the rows of the
    newest build are tested), or `{cdp_new_rows: {column: loaded_at, hours: 1}}` for a load's
    stamp (the rows of the last hour of loads before the newest). `key: <column>`, a column of
    the table's unique key, makes a unique test pick the rows to count by it (one column is
    cheaper to match than the whole key's expression). Tables only: a view is computed again
    for each filter, which costs more than it spares.

    When the environment variable CDP_DBT_TEST_SCOPE is `new` (Dagster sets it for every run
    but those tagged cdp/quality_scope: full: the daily quality checks and the one-shot
    pipeline), a unique, unique_combination_of_columns, not_null, accepted_values or
    relationships test on such a table looks only at those rows, and a unique test (of either
    kind) at every row carrying a key (or `key` value) they carry. A row does not change but
    by a build or load that stamps it anew, so the hourly unique test is as strict as testing
    every row (given the last one passed), and the others check what changed; a run that was missed is covered by the daily checks. Any other test,
    and every test in other runs (the CLI, CI, the daily checks), sees every row.

    The variable is read when SQL is compiled, not while dbt parses (as cdp.as_of does), so
    switching it makes dbt parse nothing again.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scope = cdp.new_rows_scope() -%}
    {%- set conditions = [] -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if scope -%}
        {%- set newest = "(select max(" ~ scope.column ~ ") from " ~ relation ~ ")" -%}
        {%- if scope.hours -%}
            {%- set recent = scope.column ~ " >= " ~ dbt.dateadd('hour', -scope.hours, newest) -%}
        {%- else -%}
            {%- set recent = scope.column ~ " = " ~ newest -%}
        {%- endif -%}
        {%- set test = model.test_metadata -%}
        {%- if test.name in ('unique', 'unique_combination_of_columns') -%}
            {%- set key = scope.key or test.kwargs.column_name or (test.kwargs.columns | join(', ')) -%}
            {%- do conditions.append('(' ~ key ~ ') in (select ' ~ key ~ ' from ' ~ relation ~ ' where ' ~ recent ~ ')') -%}
        {%- else -%}
            {%- do conditions.append(recent) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- The new rows the current test checks ({column, hours}), or none (see above). -#}
{% macro new_rows_scope() -%}
    {%- if not execute or env_var('CDP_DBT_TEST_SCOPE', 'all') != 'new' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set test = model.get('test_metadata') -%}
    {%- if not test or test.name not in ('unique', 'unique_combination_of_columns', 'not_null', 'accepted_values',
                                           'relationships') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set attached = model.get('attached_node') -%}
    {%- set node = graph.nodes.get(attached) if attached else none -%}
    {%- set declared = (node.config.meta or {}).get('cdp_new_rows') if node is not none else none -%}
    {%- if not declared -%}
        {{ return(none) }}
    {%- elif declared is mapping -%}
        {{ return({'column': declared['column'], 'hours': declared.get('hours', 0) | int, 'key': declared.get('key')}) }}
    {%- else -%}
        {{ return({'column': declared, 'hours': 0, 'key': none}) }}
    {%- endif -%}
{%- endmacro %}
