with

source as (

    select * from {{ source('stripe', 'invoice') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        id as invoice_id,
        customer_id,
        subscription_id,
        charge_id,
        payment_intent_id,
        number as invoice_number,
        status,
        billing_reason,
        billing as collection_method,
        currency,
        {{ cdp.cents_to_dollars('amount_due') }} as amount_due,
        {{ cdp.cents_to_dollars('amount_paid') }} as amount_paid,
        {{ cdp.cents_to_dollars('amount_remaining') }} as amount_remaining,
        {{ cdp.cents_to_dollars('subtotal') }} as subtotal,
        {{ cdp.cents_to_dollars('tax') }} as tax,
        {{ cdp.cents_to_dollars('total') }} as total,
        cast(attempt_count as {{ dbt.type_int() }}) as attempt_count,
        attempted as is_attempted,
        paid as is_paid,
        auto_advance as is_auto_advance,
        description,
        metadata,
        cast(created as {{ dbt.type_timestamp() }}) as created_at,
        cast(due_date as {{ dbt.type_timestamp() }}) as due_at,
        cast(period_start as {{ dbt.type_timestamp() }}) as period_start_at,
        cast(period_end as {{ dbt.type_timestamp() }}) as period_end_at,
        cast(finalized_at as {{ dbt.type_timestamp() }}) as finalized_at,
        cast(status_transitions_paid_at as {{ dbt.type_timestamp() }}) as paid_at,
        cast(status_transitions_voided_at as {{ dbt.type_timestamp() }}) as voided_at,
        cast(next_payment_attempt as {{ dbt.type_timestamp() }}) as next_payment_attempt_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    where
        not coalesce(is_deleted, false)
        and coalesce(livemode, true)

)

select * from renamed
