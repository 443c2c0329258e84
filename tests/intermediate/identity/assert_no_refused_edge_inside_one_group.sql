-- A link the limits refused never ends up inside one group. Limits only grow as groups
-- join, so once joining two groups would break a rule, no later link may bring their
-- records together; if one did, limit enforcement and the groups disagree.
-- Returns offending links.
with

decisions as (

    select * from {{ ref('int_identity_limit_decisions') }}
    where not is_accepted

),

edges as (

    select * from {{ ref('int_identity_edges') }}

),

groups as (

    select * from {{ ref('int_identity_groups') }}

),

final as (

    select
        d.cluster_id,
        d.edge_id,
        d.broken_rule,
        e.record_a,
        e.record_b,
        ga.group_id
    from decisions as d
    inner join edges as e on d.edge_id = e.edge_id
    inner join groups as ga on e.record_a = ga.record_key
    inner join groups as gb on e.record_b = gb.record_key
    where ga.group_id = gb.group_id

)

select * from final
