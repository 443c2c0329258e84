{{ config(materialized='connected_components') }}

{#
    Connected components of the deterministic links, before quarantine candidates, fuzzy
    matches and limits: the "otherwise distinct people" that int_identity_quarantine counts,
    and the units the rest of the graph joins. One row per record node that has a link.
#}
select
    node_a,
    node_b
from {{ ref('int_identity_edges_deterministic') }}
where is_link
