with

source as (

    select * from {{ source('stripe', 'charge') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        id as charge_id,
        customer_id,
        invoice_id,
        payment_intent_id,
        payment_method_id,
        card_id,
        balance_transaction_id,
        {{ cdp.cents_to_dollars('amount') }} as amount,
        {{ cdp.cents_to_dollars('amount_refunded') }} as amount_refunded,
        currency,
        status,
        paid as is_paid,
        captured as is_captured,
        refunded as is_refunded,
        failure_code,
        failure_message,
        outcome_type,
        outcome_network_status,
        outcome_risk_level,
        cast(outcome_risk_score as {{ dbt.type_int() }}) as outcome_risk_score,
        outcome_seller_message,
        description,
        statement_descriptor,
        receipt_email,
        receipt_number,
        billing_detail_email as billing_email,
        billing_detail_name as billing_name,
        billing_detail_phone as billing_phone,
        billing_detail_address_line1 as billing_address_line_1,
        billing_detail_address_line2 as billing_address_line_2,
        billing_detail_address_city as billing_city,
        billing_detail_address_state as billing_state,
        billing_detail_address_postal_code as billing_postal_code,
        billing_detail_address_country as billing_country,
        metadata,
        cast(created as {{ dbt.type_timestamp() }}) as created_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    where coalesce(livemode, true)

)

select * from renamed
