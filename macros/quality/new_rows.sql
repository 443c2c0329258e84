{#-
    dbt's `where` config of generic tests (dbt's own get_where_subquery, which a root project
    macro of this name replaces: "where", Custom logic, in dbt's docs), with one addition:
    hourly runs test the new rows of the big tables, daily runs every row.

    A model (or source) names the column that says when each row was loaded or written in
    its YAML, `config: {meta: {cdp_new_rows: <column>}}`. When the environment variable
    CDP_DBT_TEST_SCOPE is `new` (Dagster sets it for every run but those tagged
    cdp/quality_scope: full: the daily quality checks and the one-shot pipeline), a unique,
    not_null, accepted_values or relationships test on such a model looks only at its rows
    of the last var('test_new_rows_hours') hours before its newest one, and a unique test
    at every row carrying a key those rows carry. Rows already tested do not change but by
    a load or build that stamps them anew, so the hourly test of a unique key is as strict
    as testing every row; the others check what changed since. Any other test, and every
    test in other runs (the CLI, CI, the daily checks), sees every row.

    The variable is read when SQL is compiled, not while dbt parses (as cdp.as_of does), so
    switching it makes dbt parse nothing again.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set column = cdp.new_rows_column() -%}
    {%- set conditions = [] -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if column -%}
        {%- set newest = "(select max(" ~ column ~ ") from " ~ relation ~ ")" -%}
        {%- set recent = column ~ " >= " ~ dbt.dateadd('hour', -(var('test_new_rows_hours', 24) | int), newest) -%}
        {%- set test = model.test_metadata -%}
        {%- if test.name == 'unique' -%}
            {%- set key = test.kwargs.column_name -%}
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

{#- The column of the tested model whose recent rows this test checks, or none (see above). -#}
{% macro new_rows_column() -%}
    {%- if not execute or env_var('CDP_DBT_TEST_SCOPE', 'all') != 'new' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set test = model.get('test_metadata') -%}
    {%- if not test or test.name not in ('unique', 'not_null', 'accepted_values', 'relationships') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set attached = model.get('attached_node') -%}
    {%- set node = graph.nodes.get(attached) if attached else none -%}
    {%- if node is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return((node.config.meta or {}).get('cdp_new_rows')) }}
{%- endmacro %}
