{#
    Every person record and the cluster it falls in when all links count (before limits):
    the smallest node id of its cluster, or its own node id when nothing links it.
#}
with

records as (

    select * from {{ ref('int_identity_records') }}

),

components as (

    select * from {{ ref('int_identity_components_base') }}

),

clusters as (

    select * from {{ ref('int_identity_clusters') }}

),

final as (

    select
        r.record_key,
        r.node_id,
        coalesce(c.component, r.node_id) as base_component,
        coalesce(k.component, c.component, r.node_id) as cluster_id
    from records as r
    left join components as c on r.node_id = c.node
    left join clusters as k on coalesce(c.component, r.node_id) = k.node

)

select * from final
