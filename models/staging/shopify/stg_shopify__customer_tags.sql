with

source as (

    select * from {{ source('shopify', 'customer_tag') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('customer_id, ' ~ cdp.source_column('index'), '_fivetran_synced') }}

),

renamed as (

    select
        {{ cdp.surrogate_key(['customer_id', cdp.source_column('index')]) }} as customer_tag_id,
        cast(customer_id as {{ dbt.type_bigint() }}) as customer_id,
        cast({{ cdp.source_column('index') }} as {{ dbt.type_int() }}) as tag_position,
        value as tag,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest

)

select * from renamed
