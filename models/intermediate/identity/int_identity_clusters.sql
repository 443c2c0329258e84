{{ config(materialized='connected_components') }}

{#
    Connected components of every link (int_identity_edges) before limits are enforced.
    The deterministic components (int_identity_components_base) are contracted to one node
    each, so this graph only holds the links between them: small, however many records.
#}
with

edges as (

    select * from {{ ref('int_identity_edges') }}

),

components as (

    select * from {{ ref('int_identity_components_base') }}

),

contracted as (

    select
        coalesce(ca.component, e.node_a) as node_a,
        coalesce(cb.component, e.node_b) as node_b
    from edges as e
    left join components as ca on e.node_a = ca.node
    left join components as cb on e.node_b = cb.node

)

select
    node_a,
    node_b
from contracted
