{#
    What each record node in a rule-breaking cluster carries, for the limits: one row per
    node and identifier value of a limited type.
#}
with

members as (

    select * from {{ ref('int_identity_cluster_members') }}

),

violating as (

    select distinct cluster_id from {{ ref('int_identity_violations') }}

),

identifiers as (

    select * from {{ ref('int_identifiers_normalized') }}

),

limits as (

    select * from {{ ref('int_identity_limits') }}

)

select
    m.node_id as node,
    i.identifier_type,
    i.identifier_value
from members as m
inner join violating as v on m.cluster_id = v.cluster_id
inner join identifiers as i on m.record_key = i.record_key
inner join limits as l on i.identifier_type = l.identifier_type
