{#
    Materialization `limited_components`: enforce per-profile limits and cannot-link rules
    on clusters that break them, by rebuilding each such cluster from its links in a fixed
    order and refusing any link that would break a rule.

    The model's SQL returns the links of the offending clusters:
        cluster_id, edge_id, node_a, node_b, edge_rank (1, 2, ... within the cluster: the order)
    Config (names of models, which the model must also declare with `-- depends_on: {{ ref(...) }}`):
        node_values:  node, identifier_type, identifier_value   (what each node carries)
        limits:       identifier_type, max_per_profile
        cannot_links: node_a, node_b                             (pairs that may never be joined)
        max_rounds:   most links one cluster may hold (default var identity_max_constraint_rounds)

    Round r takes each cluster's r-th link. If its two ends are already one group it is
    accepted; otherwise the two groups would be joined, and the link is refused when the
    joined group would carry more distinct values of a type than the limit, or hold both
    ends of a cannot-link pair; else the groups join. So the strongest and oldest links
    (the order) are kept and the weakest and latest are cut, deterministically.

    The table built has one row per link: cluster_id, edge_id, is_accepted, and for a
    refused link the rule it would have broken (`email: 5 > 4`, `cannot-link`; when several
    limits would break, the first by identifier type).

    Clusters are independent (one link of each per round), so the rounds needed are the
    most links any one cluster holds, each round a handful of statements over the links
    of that rank. More than max_rounds fails the build with a message: a value joining
    that many records should be quarantined or blocklisted. Because limits only grow as
    groups join, a refused link's ends can never be joined later by another link.

    Always a full rebuild (not incremental). Scratch tables <model>__edges, __groups,
    __round, __regroup and __decisions are created beside the model and dropped at the
    end. Pre- and post-hooks run; persist_docs applies; model contracts are not enforced.
    Used by int_identity_limit_decisions.
#}
{% materialization limited_components, default %}

    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set node_values = ref(config.require('node_values')) -%}
    {%- set limits = ref(config.require('limits')) -%}
    {%- set cannot_links = ref(config.require('cannot_links')) -%}
    {%- set max_rounds = config.get('max_rounds', var('identity_max_constraint_rounds', 2000)) | int -%}

    {%- set edges_rel = this.incorporate(path={"identifier": this.identifier ~ "__edges"}, type='table') -%}
    {%- set groups_rel = this.incorporate(path={"identifier": this.identifier ~ "__groups"}, type='table') -%}
    {%- set round_rel = this.incorporate(path={"identifier": this.identifier ~ "__round"}, type='table') -%}
    {%- set regroup_rel = this.incorporate(path={"identifier": this.identifier ~ "__regroup"}, type='table') -%}
    {%- set decisions_rel = this.incorporate(path={"identifier": this.identifier ~ "__decisions"}, type='table') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {% do adapter.create_schema(target_relation) %}

    {% call statement('lc_edges') %}
        {{ cdp.create_scratch_table() }} {{ edges_rel }} as
        select cluster_id, edge_id, node_a, node_b, edge_rank from ({{ sql }}) as model_edges
    {% endcall %}
    {% call statement('lc_groups') %}
        {{ cdp.create_scratch_table() }} {{ groups_rel }} as
        select node, node as grp from (
            select node_a as node from {{ edges_rel }}
            union
            select node_b from {{ edges_rel }}
        ) as nodes
    {% endcall %}
    {% call statement('lc_decisions') %}
        {{ cdp.create_scratch_table() }} {{ decisions_rel }} as
        select cluster_id, edge_id, true as is_accepted, cast(null as {{ dbt.type_string() }}) as broken_rule
        from {{ edges_rel }} where 1 = 0
    {% endcall %}

    {% set stats = run_query("select coalesce(max(edge_rank), 0), count(distinct cluster_id) from " ~ edges_rel) %}
    {% set rounds = stats.columns[0].values()[0] | int %}
    {% do log(this.identifier ~ ": " ~ stats.columns[1].values()[0] ~ " clusters break a limit or cannot-link rule; "
              ~ rounds ~ " rounds", info=True) %}
    {% if rounds > max_rounds %}
        {{ exceptions.raise_compiler_error(
            this.identifier ~ ": a cluster holds " ~ rounds ~ " links, more than identity_max_constraint_rounds ("
            ~ max_rounds ~ "). A value joining that many records should be quarantined or blocklisted; "
            ~ "or raise the var.") }}
    {% endif %}

    {% for r in range(1, rounds + 1) %}
        {% call statement('lc_round') %}
            {{ cdp.create_scratch_table() }} {{ round_rel }} as
            with current_links as (
                select e.cluster_id, e.edge_id, ga.grp as grp_a, gb.grp as grp_b
                from {{ edges_rel }} as e
                inner join {{ groups_rel }} as ga on e.node_a = ga.node
                inner join {{ groups_rel }} as gb on e.node_b = gb.node
                where e.edge_rank = {{ r }}
            ),
            joined_members as (
                select l.edge_id, g.node
                from current_links as l
                inner join {{ groups_rel }} as g on g.grp = l.grp_a or g.grp = l.grp_b
                where l.grp_a != l.grp_b
            ),
            joined_counts as (
                select m.edge_id, v.identifier_type, count(distinct v.identifier_value) as n
                from joined_members as m
                inner join {{ node_values }} as v on m.node = v.node
                group by m.edge_id, v.identifier_type
            ),
            over_limit as (
                select c.edge_id,
                       min(c.identifier_type || ': ' || cast(c.n as {{ dbt.type_string() }}) || ' > '
                           || cast(l.max_per_profile as {{ dbt.type_string() }})) as broken_rule
                from joined_counts as c
                inner join {{ limits }} as l on c.identifier_type = l.identifier_type
                where c.n > l.max_per_profile
                group by c.edge_id
            ),
            cannot_link as (
                select distinct l.edge_id
                from current_links as l
                inner join {{ cannot_links }} as x on 1 = 1
                inner join {{ groups_rel }} as gx on x.node_a = gx.node
                inner join {{ groups_rel }} as gy on x.node_b = gy.node
                where l.grp_a != l.grp_b
                    and ((gx.grp = l.grp_a and gy.grp = l.grp_b) or (gx.grp = l.grp_b and gy.grp = l.grp_a))
            )
            select
                l.cluster_id,
                l.edge_id,
                l.grp_a,
                l.grp_b,
                l.grp_a = l.grp_b or (o.edge_id is null and c.edge_id is null) as is_accepted,
                coalesce(o.broken_rule, case when c.edge_id is not null then 'cannot-link' end) as broken_rule
            from current_links as l
            left join over_limit as o on l.edge_id = o.edge_id
            left join cannot_link as c on l.edge_id = c.edge_id
        {% endcall %}
        {% call statement('lc_record') %}
            insert into {{ decisions_rel }}
            select cluster_id, edge_id, is_accepted, broken_rule from {{ round_rel }}
        {% endcall %}
        {% call statement('lc_regroup') %}
            {{ cdp.create_scratch_table() }} {{ regroup_rel }} as
            with moves as (
                select grp_a as old_grp, case when grp_a < grp_b then grp_a else grp_b end as new_grp
                from {{ round_rel }} where is_accepted and grp_a != grp_b
                union all
                select grp_b, case when grp_a < grp_b then grp_a else grp_b end
                from {{ round_rel }} where is_accepted and grp_a != grp_b
            )
            select g.node, coalesce(m.new_grp, g.grp) as grp
            from {{ groups_rel }} as g
            left join moves as m on g.grp = m.old_grp
        {% endcall %}
        {% call statement('lc_swap') %}
            {{ cdp.create_scratch_table() }} {{ groups_rel }} as select * from {{ regroup_rel }}
        {% endcall %}
    {% endfor %}

    {% call statement('main') %}
        create or replace table {{ target_relation }} as
        select cluster_id, edge_id, is_accepted, broken_rule from {{ decisions_rel }}
    {% endcall %}

    {% do cdp.finish_graph_materialization(target_relation, [edges_rel, groups_rel, round_rel, regroup_rel, decisions_rel], post_hooks) %}
    {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}
