with

source as (

    select * from {{ source('stripe', 'invoice_line_item') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id, invoice_id', '_fivetran_synced') }}

),

renamed as (

    select
        -- Stripe's line ids are unique within an invoice; the pair is the key.
        {{ cdp.surrogate_key(['id', 'invoice_id']) }} as invoice_line_item_id,
        id as line_item_id,
        invoice_id,
        subscription_id,
        subscription_item_id,
        coalesce(price_id, plan_id) as price_id,
        {{ cdp.cents_to_dollars('amount') }} as amount,
        currency,
        description,
        cast(quantity as {{ dbt.type_int() }}) as quantity,
        type as line_type,
        proration as is_proration,
        discountable as is_discountable,
        metadata,
        cast(period_start as {{ dbt.type_timestamp() }}) as period_start_at,
        cast(period_end as {{ dbt.type_timestamp() }}) as period_end_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    where coalesce(livemode, true)

)

select * from renamed
