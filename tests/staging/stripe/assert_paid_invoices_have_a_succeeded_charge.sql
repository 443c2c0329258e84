-- Every paid invoice is paid by a succeeded charge of the same amount.
with

invoices as (

    select * from {{ ref('stg_stripe__invoices') }}
    where is_paid

),

charges as (

    select * from {{ ref('stg_stripe__charges') }}
    where status = 'succeeded'

),

unmatched as (

    select invoices.invoice_id
    from invoices
    left join charges
        on
            invoices.invoice_id = charges.invoice_id
            and invoices.amount_paid = charges.amount
    where charges.charge_id is null

)

select * from unmatched
