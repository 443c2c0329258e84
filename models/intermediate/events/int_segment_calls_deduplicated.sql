-- Indentation rules off for this model: its four tables are read by one Jinja loop, which
-- the linter's indentation rules cannot lay out.
-- noqa: disable=LT02
{{ config(
    materialized='incremental',
    unique_key='call_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    cluster_by=['to_date(occurred_at)'],
    post_hook=[
        "{{ cdp.privacy_delete_forgotten({'user_id': 'user_id', 'anonymous_id': 'anonymous_id', 'email': 'email'}) }}",
        "{{ cdp.retention_delete_expired('occurred_at') }}",
    ],
) }}

{#
    Segment's identify, track, page and screen calls, each once (its latest delivery), with
    the columns device attribution (int_device_logins) and profile_events read. One row per
    call (message id).

    Why this model reads source() rather than the staging views: those deduplicate on read
    (latest_per_key over the whole table), and at a million people the two consumers paid
    for it twice a build, ~17 million rows each. Here it is done once and, run after run,
    only for the rows loaded since the last run: a message delivered again is loaded later
    (uuid_ts), so the newest load of a message id replaces the row it had (delete+insert on
    call_id). The deduplication rule is the staging one (cdp.latest_per_key).

    A partition run (vars cdp_partition_start/cdp_partition_end, cdp.partition_window; Dagster's
    daily partitions and backfills) rebuilds the calls that happened in that window instead:
    every delivery of them up to the newest load this table already holds, so that the run
    replaces those rows and leaves the load cursor where it was (loads after it are the next
    ordinary run's). Without the vars the model is exactly the incremental one above.
#}
{%- set call_types = [
    ('identify', 'identifies'), ('track', 'tracks'), ('page', 'pages'), ('screen', 'screens'),
] -%}
{%- set window = cdp.partition_window() -%}

with

{% for call_type, table in call_types %}
{{ table }} as (

    select * from {{ source('segment', table) }}
    {%- if window and is_incremental() %}
    -- The calls of the window (by event time), each with all its deliveries so that the
    -- newest wins, up to this table's cursor: later loads are the next ordinary run's.
    where id in (
        select id from {{ source('segment', table) }}
        where
            cast({{ cdp.source_column('timestamp') }} as {{ dbt.type_timestamp() }})
            >= cast('{{ window.start }}' as {{ dbt.type_timestamp() }})
            and cast({{ cdp.source_column('timestamp') }} as {{ dbt.type_timestamp() }})
            < cast('{{ window.end }}' as {{ dbt.type_timestamp() }})
    )
    and uuid_ts <= (
        select max(loaded_at)
        from {{ this }}
        where call_type = '{{ call_type }}'
    )
    {%- elif is_incremental() %}
    -- Loads since the last run; >= takes again a load that was running then (delete+insert
    -- makes that harmless).
    where uuid_ts >= {{ cdp.watermark('loaded_at', "call_type = '" ~ call_type ~ "'") }}
    {%- endif %}
    {{ cdp.latest_per_key('id', 'uuid_ts') }}

),

{% endfor %}

calls as (

    {%- for call_type, table in call_types %}
    select
        id as call_id,
        '{{ call_type }}' as call_type,
        {%- if call_type == 'track' %}
        event_text as event_name,
        {%- elif call_type == 'page' %}
        'Page Viewed' as event_name,
        {%- elif call_type == 'screen' %}
        'Screen Viewed' as event_name,
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as event_name,
        {%- endif %}
        anonymous_id,
        user_id,
        cast({{ cdp.source_column('timestamp') }} as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(uuid_ts as {{ dbt.type_timestamp() }}) as loaded_at,
        {{ 'email' if call_type == 'identify' else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as email,
        {%- if call_type == 'page' %}
        path as page_path,
        title as page_title,
        url as page_url,
        referrer as page_referrer,
        {%- else %}
        context_page_path as page_path,
        context_page_title as page_title,
        context_page_url as page_url,
        context_page_referrer as page_referrer,
        {%- endif %}
        context_campaign_source as utm_source,
        context_campaign_medium as utm_medium,
        context_campaign_name as utm_campaign,
        context_user_agent as user_agent,
        context_device_type as device_type,
        context_device_model as device_model,
        {{ 'name' if call_type == 'screen' else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as screen_name
    from {{ table }}
    {{ "union all" if not loop.last }}
    {%- endfor %}

)

select * from calls
