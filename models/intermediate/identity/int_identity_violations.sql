{#
    Clusters (int_identity_cluster_members) that break a rule: more distinct values of an
    identifier type than identity_rules.max_per_profile allows, or both records of an
    identity_cannot_link pair. One row per cluster and broken rule. These clusters are
    rebuilt link by link in int_identity_limit_decisions; the others stand as they are.
#}
with

members as (

    select * from {{ ref('int_identity_cluster_members') }}

),

identifiers as (

    select * from {{ ref('int_identifiers_normalized') }}

),

rules as (

    select * from {{ ref('identity_rules') }}
    where is_link and max_per_profile is not null

),

cannot_links as (

    select * from {{ ref('identity_cannot_link') }}

),

value_counts as (

    select
        m.cluster_id,
        i.identifier_type,
        count(distinct i.identifier_value) as value_count
    from members as m
    inner join identifiers as i on m.record_key = i.record_key
    group by m.cluster_id, i.identifier_type

),

over_limit as (

    select
        v.cluster_id,
        v.identifier_type || ': ' || cast(v.value_count as {{ dbt.type_string() }}) || ' > '
        || cast(r.max_per_profile as {{ dbt.type_string() }}) as broken_rule
    from value_counts as v
    inner join rules as r on v.identifier_type = r.identifier_type
    where v.value_count > r.max_per_profile

),

cannot_link_breaks as (

    select distinct
        ma.cluster_id,
        'cannot-link' as broken_rule
    from cannot_links as c
    inner join members as ma on c.record_key_a = ma.record_key
    inner join members as mb on c.record_key_b = mb.record_key
    where ma.cluster_id = mb.cluster_id

),

final as (

    select * from over_limit
    union all
    select * from cannot_link_breaks

)

select * from final
