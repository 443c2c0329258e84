{{ config(materialized='connected_components') }}

{#
    Components of the links kept in rule-breaking clusters (int_identity_limit_decisions):
    how those clusters split once the weakest and latest links are cut.
#}
with

decisions as (

    select * from {{ ref('int_identity_limit_decisions') }}

),

edges as (

    select * from {{ ref('int_identity_edges') }}

)

select
    e.node_a,
    e.node_b
from decisions as d
inner join edges as e on d.edge_id = e.edge_id
where d.is_accepted
