with

source as (

    select * from {{ source('shopify', 'customer') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_bigint() }}) as customer_id,
        email,
        first_name,
        last_name,
        phone,
        state as account_state,
        cast(orders_count as {{ dbt.type_int() }}) as orders_count,
        cast(total_spent as {{ dbt.type_numeric() }}) as total_spent,
        currency,
        note,
        cast(default_address_id as {{ dbt.type_bigint() }}) as default_address_id,
        verified_email as is_email_verified,
        tax_exempt as is_tax_exempt,
        accepts_marketing as has_accepted_marketing,
        marketing_opt_in_level,
        email_marketing_consent_state as email_consent_state,
        email_marketing_consent_opt_in_level as email_consent_opt_in_level,
        cast(email_marketing_consent_consent_updated_at as {{ dbt.type_timestamp() }}) as email_consent_updated_at,
        sms_marketing_consent_state as sms_consent_state,
        sms_marketing_consent_opt_in_level as sms_consent_opt_in_level,
        cast(sms_marketing_consent_consent_updated_at as {{ dbt.type_timestamp() }}) as sms_consent_updated_at,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    where not coalesce(_fivetran_deleted, false)

)

select * from renamed
