{{ config(
    materialized='limited_components',
    node_values='int_identity_limit_values',
    limits='int_identity_limits',
    cannot_links='int_identity_cannot_link_nodes',
) }}

-- depends_on: {{ ref('int_identity_limit_values') }}
-- depends_on: {{ ref('int_identity_limits') }}
-- depends_on: {{ ref('int_identity_cannot_link_nodes') }}

{#
    The links of every cluster that breaks a rule (int_identity_violations), in the order
    limits are enforced: stronger rule first (priority), then the older link, then the edge
    id. The materialization keeps links in that order while they break no rule and records
    the ones it refuses (the conflicts).
#}
with

edges as (

    select * from {{ ref('int_identity_edges') }}

),

members as (

    select * from {{ ref('int_identity_cluster_members') }}

),

violating as (

    select distinct cluster_id from {{ ref('int_identity_violations') }}

),

cluster_edges as (

    select
        ma.cluster_id,
        e.edge_id,
        e.node_a,
        e.node_b,
        row_number() over (
            partition by ma.cluster_id
            order by e.priority, e.linked_at, e.edge_id
        ) as edge_rank
    from edges as e
    inner join members as ma on e.record_a = ma.record_key
    inner join violating as v on ma.cluster_id = v.cluster_id

)

select * from cluster_edges
