-- Indentation rules off for this model: a Jinja loop builds its union, which the
-- linter's indentation rules cannot lay out.
-- noqa: disable=LT02
{#
    One row per raw table: rows, rows whose primary key is not unique, and when it last
    loaded, with its freshness thresholds. Reads the raw tables themselves, like dbt
    source freshness, through the relations in the graph (macro raw_source_tables): the
    graph is empty when dbt parses the model, so the loop cannot declare the dependencies.
    The list below does, so that the model runs after the loads in Dagster and shows in the
    lineage; python_tests/test_quality.py fails when it misses a raw table.
#}
-- depends_on: {{ source('klaviyo', 'campaign') }}
-- depends_on: {{ source('klaviyo', 'event') }}
-- depends_on: {{ source('klaviyo', 'flow') }}
-- depends_on: {{ source('klaviyo', 'metric') }}
-- depends_on: {{ source('klaviyo', 'person') }}
-- depends_on: {{ source('salesforce', 'account') }}
-- depends_on: {{ source('salesforce', 'contact') }}
-- depends_on: {{ source('salesforce', 'lead') }}
-- depends_on: {{ source('salesforce', 'opportunity') }}
-- depends_on: {{ source('salesforce', 'user') }}
-- depends_on: {{ source('segment', 'checkout_started') }}
-- depends_on: {{ source('segment', 'identifies') }}
-- depends_on: {{ source('segment', 'newsletter_subscribed') }}
-- depends_on: {{ source('segment', 'order_completed') }}
-- depends_on: {{ source('segment', 'pages') }}
-- depends_on: {{ source('segment', 'product_added') }}
-- depends_on: {{ source('segment', 'product_viewed') }}
-- depends_on: {{ source('segment', 'screens') }}
-- depends_on: {{ source('segment', 'signed_up') }}
-- depends_on: {{ source('segment', 'tracks') }}
-- depends_on: {{ source('segment', 'users') }}
-- depends_on: {{ source('shopify', 'customer') }}
-- depends_on: {{ source('shopify', 'customer_tag') }}
-- depends_on: {{ source('shopify', 'order') }}
-- depends_on: {{ source('shopify', 'order_line') }}
-- depends_on: {{ source('shopify', 'order_line_refund') }}
-- depends_on: {{ source('shopify', 'product') }}
-- depends_on: {{ source('shopify', 'product_variant') }}
-- depends_on: {{ source('shopify', 'refund') }}
-- depends_on: {{ source('stripe', 'charge') }}
-- depends_on: {{ source('stripe', 'customer') }}
-- depends_on: {{ source('stripe', 'invoice') }}
-- depends_on: {{ source('stripe', 'invoice_line_item') }}
-- depends_on: {{ source('stripe', 'price') }}
-- depends_on: {{ source('stripe', 'product') }}
-- depends_on: {{ source('stripe', 'subscription_history') }}
-- depends_on: {{ source('stripe', 'subscription_item') }}
-- depends_on: {{ source('zendesk', 'ticket') }}
-- depends_on: {{ source('zendesk', 'user') }}
{%- set tables = cdp.raw_source_tables() %}

with

profiled as (
    {%- for t in tables %}
    {{ "union all" if not loop.first }}
    select
        {{ cdp.sql_string(t.source_name) }} as source_name,
        {{ cdp.sql_string(t.table_name) }} as table_name,
        count(*) as row_count,
        {%- if t.primary_key %}
        count(*) - count(distinct {{ cdp.surrogate_key(t.primary_key) }}) as duplicate_key_rows,
        {%- else %}
        0 as duplicate_key_rows,
        {%- endif %}
        {%- if t.loaded_at_field %}
        max(cast({{ t.loaded_at_field }} as {{ dbt.type_timestamp() }})) as last_loaded_at,
        {%- else %}
        cast(null as {{ dbt.type_timestamp() }}) as last_loaded_at,
        {%- endif %}
        cast({{ t.warn_after_hours if t.warn_after_hours is not none else 'null' }} as double)
            as warn_after_hours,
        cast({{ t.error_after_hours if t.error_after_hours is not none else 'null' }} as double)
            as error_after_hours
    from {{ t.relation }}
    {%- endfor %}
    {%- if not tables %}
    select
        cast(null as {{ dbt.type_string() }}) as source_name,
        cast(null as {{ dbt.type_string() }}) as table_name,
        0 as row_count,
        0 as duplicate_key_rows,
        cast(null as {{ dbt.type_timestamp() }}) as last_loaded_at,
        cast(null as double) as warn_after_hours,
        cast(null as double) as error_after_hours
    where false
    {%- endif %}

),

final as (

    select
        source_name,
        table_name,
        row_count,
        duplicate_key_rows,
        last_loaded_at,
        warn_after_hours,
        error_after_hours,
        {%- set seconds_since_load = dbt.datediff('last_loaded_at', cdp.as_of(), 'second') %}
        {{ seconds_since_load }} / 3600.0 as hours_since_load
    from profiled

)

select * from final
