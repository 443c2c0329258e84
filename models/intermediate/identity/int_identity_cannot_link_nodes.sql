{{ config(materialized='view') }}

{# The steward's cannot-link pairs (seed identity_cannot_link) as graph nodes. #}
with

cannot_links as (

    select * from {{ ref('identity_cannot_link') }}

),

records as (

    select * from {{ ref('int_identity_records') }}

)

select
    ra.node_id as node_a,
    rb.node_id as node_b,
    c.reason
from cannot_links as c
inner join records as ra on c.record_key_a = ra.record_key
inner join records as rb on c.record_key_b = rb.record_key
