-- Every deterministic link (is_link) has both ends in one base component: the
-- connected_components materialization (incremental) must agree with its edges.
-- Returns offending links, with the component of each end (null: node missing).
with

edges as (

    select * from {{ ref('int_identity_edges_deterministic') }}
    where is_link

),

components as (

    select * from {{ ref('int_identity_components_base') }}

),

final as (

    select
        e.record_a,
        e.record_b,
        e.identifier_type,
        e.identifier_value,
        ca.component as component_a,
        cb.component as component_b
    from edges as e
    left join components as ca on e.node_a = ca.node
    left join components as cb on e.node_b = cb.node
    where ca.component is null or cb.component is null or ca.component != cb.component

)

select * from final
