{#
    Every link between two records that identity resolution may use, one row per record
    pair and reason, with the order in which limits are enforced: stronger rules first
    (priority, from identity_rules; fuzzy matches last), then older links first. When a
    profile would exceed a limit, the links that come last in this order are the ones cut.
#}
with

deterministic as (

    select * from {{ ref('int_identity_edges_deterministic') }}
    where is_link

),

shared_values as (

    select * from {{ ref('int_identity_edges_shared_values') }}
    where is_link

),

fuzzy as (

    select * from {{ ref('int_identity_edges_fuzzy') }}
    where is_match

),

records as (

    select * from {{ ref('int_identity_records') }}

),

unioned as (

    select
        record_a,
        record_b,
        node_a,
        node_b,
        'identifier' as link_kind,
        identifier_type as rule,
        identifier_value,
        priority,
        linked_at,
        cast(null as {{ dbt.type_float() }}) as match_probability
    from deterministic

    union all

    select
        record_a,
        record_b,
        node_a,
        node_b,
        'shared_value',
        identifier_type,
        identifier_value,
        priority,
        linked_at,
        null
    from shared_values

    union all

    -- Fuzzy matches rank below every deterministic rule; they link from when both records exist.
    select
        f.record_a,
        f.record_b,
        f.node_a,
        f.node_b,
        'fuzzy',
        'fuzzy_person_match',
        null,
        {{ var('identity_fuzzy_priority', 5) }},
        greatest(coalesce(ra.first_seen_at, rb.first_seen_at), coalesce(rb.first_seen_at, ra.first_seen_at)),
        f.match_probability
    from fuzzy as f
    inner join records as ra on f.record_a = ra.record_key
    inner join records as rb on f.record_b = rb.record_key

),

final as (

    select
        {{ cdp.surrogate_key(['record_a', 'record_b', 'rule', 'identifier_value']) }} as edge_id,
        *
    from unioned

)

select * from final
