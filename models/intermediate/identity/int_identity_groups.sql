{#
    The final partition of person records: one row per record with the group it belongs
    to (a node id): its cluster, or, in a cluster that broke a rule, the part it falls in
    after the refused links are cut.
#}
with

members as (

    select * from {{ ref('int_identity_cluster_members') }}

),

violating as (

    select distinct cluster_id from {{ ref('int_identity_violations') }}

),

constrained as (

    select * from {{ ref('int_identity_components_constrained') }}

),

final as (

    select
        m.record_key,
        m.node_id,
        m.cluster_id,
        case
            when v.cluster_id is null then m.cluster_id
            else coalesce(c.component, m.node_id)
        end as group_id,
        v.cluster_id is not null as was_constrained
    from members as m
    left join violating as v on m.cluster_id = v.cluster_id
    left join constrained as c on m.node_id = c.node

)

select * from final
