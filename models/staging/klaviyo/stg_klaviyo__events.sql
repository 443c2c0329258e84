with

source as (

    select * from {{ source('klaviyo', 'event') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        id as event_id,
        uuid as event_uuid,
        person_id,
        metric_id,
        campaign_id,
        flow_id,
        flow_message_id,
        _variation as variation_id,
        type as event_type,
        -- Klaviyo sends amounts such as "$25.40"; keep the number.
        cast(
            nullif({{ cdp.regexp_replace_all('property_value', '[^0-9.]', '') }}, '') as {{ dbt.type_numeric() }}
        ) as event_value,
        property_attribution as attribution,
        property_subject as email_subject,
        property_campaign_name as campaign_name,
        property_url as clicked_url,
        property_list as list_name,
        property_order_id as order_id,
        property_item_names as item_names,
        cast({{ cdp.source_column('timestamp') }} as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(datetime as {{ dbt.type_timestamp() }}) as recorded_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    where not coalesce(_fivetran_deleted, false)

)

select * from renamed
