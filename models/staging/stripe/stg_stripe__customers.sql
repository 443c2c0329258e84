with

source as (

    select * from {{ source('stripe', 'customer') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        id as customer_id,
        email,
        name as customer_name,
        phone,
        description,
        currency,
        {{ cdp.cents_to_dollars('balance') }} as balance,
        delinquent as is_delinquent,
        address_line_1,
        address_line_2,
        address_city,
        address_state,
        address_postal_code,
        address_country,
        shipping_name,
        shipping_phone,
        shipping_address_line_1,
        shipping_address_line_2,
        shipping_address_city,
        shipping_address_state,
        shipping_address_postal_code,
        shipping_address_country,
        invoice_prefix,
        default_card_id,
        invoice_settings_default_payment_method as default_payment_method_id,
        tax_exempt,
        metadata,
        cast(created as {{ dbt.type_timestamp() }}) as created_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    -- Stripe marks deleted customers itself; test-mode objects are not real customers.
    where
        not coalesce(is_deleted, false)
        and coalesce(livemode, true)

)

select * from renamed
