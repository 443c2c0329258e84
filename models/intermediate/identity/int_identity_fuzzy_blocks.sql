{#
    The blocks fuzzy matching compares within: one row per blocking key (rule and key)
    that at least two and at most var('identity_fuzzy_max_block_size') keys share. A larger
    block is skipped: a key that common is no evidence, and its pairs grow with the square of
    its size. The size counts keys: a record whose address spells its own name is in that
    email_name block twice, as an address and as a name.

    block_status says which pairs a block makes (int_identity_fuzzy_pairs): every pair of its
    records when small (20 keys or fewer) or for every rule but email_name; an email_name
    block above 20 keys (a common name spelt as an address) pairs only records without a
    name with the others, since its email-against-name comparison says nothing about two
    named records.
#}

with

block_keys as (

    select * from {{ ref('int_identity_fuzzy_block_keys') }}
    where block_key is not null

),

sizes as (

    select
        block_rule,
        block_key,
        sum(key_forms) as block_size
    from block_keys
    group by block_rule, block_key
    having sum(key_forms) between 2 and {{ var('identity_fuzzy_max_block_size', 200) }}

),

final as (

    select
        block_rule,
        block_key,
        block_size,
        case when block_size <= 20 then 'small' else 'large' end as block_status
    from sizes

)

select * from final
