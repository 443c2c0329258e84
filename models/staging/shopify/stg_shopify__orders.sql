with

source as (

    select * from {{ source('shopify', 'order') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_bigint() }}) as order_id,
        name as order_name,
        cast(order_number as {{ dbt.type_bigint() }}) as order_number,
        cast(customer_id as {{ dbt.type_bigint() }}) as customer_id,
        email,
        financial_status,
        fulfillment_status,
        cancel_reason,
        currency,
        presentment_currency,
        cast(subtotal_price as {{ dbt.type_numeric() }}) as subtotal_price,
        cast(total_line_items_price as {{ dbt.type_numeric() }}) as total_line_items_price,
        cast(total_discounts as {{ dbt.type_numeric() }}) as total_discounts,
        cast(total_tax as {{ dbt.type_numeric() }}) as total_tax,
        cast(total_price as {{ dbt.type_numeric() }}) as total_price,
        cast(total_tip_received as {{ dbt.type_numeric() }}) as total_tip_received,
        source_name,
        cast(app_id as {{ dbt.type_bigint() }}) as app_id,
        cast(location_id as {{ dbt.type_bigint() }}) as location_id,
        customer_locale,
        confirmed as is_confirmed,
        taxes_included as has_taxes_included,
        buyer_accepts_marketing as has_buyer_accepted_marketing,
        browser_ip,
        client_details_user_agent as user_agent,
        landing_site_base_url,
        referring_site,
        checkout_token,
        cart_token,
        billing_address_first_name as billing_first_name,
        billing_address_last_name as billing_last_name,
        billing_address_name as billing_name,
        billing_address_company as billing_company,
        billing_address_address_1 as billing_address_line_1,
        billing_address_address_2 as billing_address_line_2,
        billing_address_city as billing_city,
        billing_address_province as billing_province,
        billing_address_province_code as billing_province_code,
        billing_address_zip as billing_postcode,
        billing_address_country as billing_country,
        billing_address_country_code as billing_country_code,
        billing_address_phone as billing_phone,
        shipping_address_first_name as shipping_first_name,
        shipping_address_last_name as shipping_last_name,
        shipping_address_name as shipping_name,
        shipping_address_company as shipping_company,
        shipping_address_address_1 as shipping_address_line_1,
        shipping_address_address_2 as shipping_address_line_2,
        shipping_address_city as shipping_city,
        shipping_address_province as shipping_province,
        shipping_address_province_code as shipping_province_code,
        shipping_address_zip as shipping_postcode,
        shipping_address_country as shipping_country,
        shipping_address_country_code as shipping_country_code,
        shipping_address_phone as shipping_phone,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(processed_at as {{ dbt.type_timestamp() }}) as processed_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(cancelled_at as {{ dbt.type_timestamp() }}) as cancelled_at,
        cast(closed_at as {{ dbt.type_timestamp() }}) as closed_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    -- Deleted orders and the store's test orders are not customer behaviour.
    where
        not coalesce(_fivetran_deleted, false)
        and not coalesce(test, false)

)

select * from renamed
