with

source as (

    select * from {{ source('klaviyo', 'campaign') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        id as campaign_id,
        name as campaign_name,
        subject,
        campaign_type,
        -- Newer connector versions fill status_label only.
        coalesce(status, lower(status_label)) as status,
        from_email,
        from_name,
        email_template_id,
        archived as is_archived,
        cast(send_time as {{ dbt.type_timestamp() }}) as scheduled_to_send_at,
        cast(sent_at as {{ dbt.type_timestamp() }}) as sent_at,
        cast(scheduled as {{ dbt.type_timestamp() }}) as scheduled_at,
        cast(created as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated as {{ dbt.type_timestamp() }}) as updated_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    where not coalesce(_fivetran_deleted, false)

)

select * from renamed
