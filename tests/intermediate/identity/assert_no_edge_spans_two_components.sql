-- Every accepted link joins two records of one group: the final partition
-- (int_identity_groups) must not cut a link that limit enforcement kept. Links outside
-- rule-breaking clusters have no decision and count as accepted. Returns offending links.
with

edges as (

    select * from {{ ref('int_identity_edges') }}

),

decisions as (

    select * from {{ ref('int_identity_limit_decisions') }}

),

groups as (

    select * from {{ ref('int_identity_groups') }}

),

accepted_edges as (

    select e.*
    from edges as e
    left join decisions as d on e.edge_id = d.edge_id
    where d.edge_id is null or d.is_accepted

),

final as (

    select
        e.edge_id,
        e.record_a,
        e.record_b,
        e.rule,
        e.identifier_value,
        ga.group_id as group_a,
        gb.group_id as group_b
    from accepted_edges as e
    left join groups as ga on e.record_a = ga.record_key
    left join groups as gb on e.record_b = gb.record_key
    where ga.group_id is null or gb.group_id is null or ga.group_id != gb.group_id

)

select * from final
