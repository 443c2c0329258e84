{#
    Materialization `connected_components`: the model's SQL returns an edge list
    (node_a, node_b: integer node ids); the table built holds one row per node that has an
    edge, with `component`, the smallest node id of its connected component.

    Edges are undirected: each is kept once (smaller node first); duplicates, self-loops
    and edges with a null end are dropped. A node without an edge gets no row, so callers
    coalesce a missing component to the node itself. Used by int_identity_components_base,
    int_identity_clusters and int_identity_components_constrained.

    Algorithm: root hooking with pointer jumping (Shiloach-Vishkin style). Each round,
    every component label moves to the smallest label found next to any of its members,
    then labels follow their own labels twice (pointer jumping). Labels only decrease and a
    component ends labelled with its smallest node id, so the result is a function of the
    edges alone. Long chains converge in O(log n) rounds, not O(diameter).

    Incremental (the default once the table exists; `--full-refresh` rebuilds): the edges
    of the previous build are kept in `<model>__edges`; only the components touched by an
    added or removed edge are recomputed, from the current edges among their nodes. Since
    labels are canonical (smallest node id), this gives exactly the full rebuild's result.

    Config: max_iterations (default var identity_max_iterations). Not converging within it
    fails the build. Every round's count of changed labels is logged and appended, with the
    run's id, to `<model>_iterations`.

    Works on any adapter that has `create or replace table`, `except` and `union all`
    (side tables are transient on Snowflake: macro create_scratch_table)
    (DuckDB, Snowflake): only plain SQL statements, driven by this loop.

    Relations, beside the model's table (same schema):
        <model>__edges       this build's edges, kept for the next incremental run
        <model>_iterations   log: invocation_id, run_started_at, mode (full/incremental),
                             nodes, round, labels_changed; one row per round, appended
        <model>__edges_new, __scope, __labels, __next, __jump
                             scratch tables, dropped at the end of the build
    Pre- and post-hooks run; persist_docs applies; model contracts are not enforced.
#}
{% materialization connected_components, default %}

    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set max_iterations = config.get('max_iterations', var('identity_max_iterations', 40)) | int -%}

    {%- set edges_rel = this.incorporate(path={"identifier": this.identifier ~ "__edges"}, type='table') -%}
    {%- set new_edges_rel = this.incorporate(path={"identifier": this.identifier ~ "__edges_new"}, type='table') -%}
    {%- set scope_rel = this.incorporate(path={"identifier": this.identifier ~ "__scope"}, type='table') -%}
    {%- set labels_rel = this.incorporate(path={"identifier": this.identifier ~ "__labels"}, type='table') -%}
    {%- set next_rel = this.incorporate(path={"identifier": this.identifier ~ "__next"}, type='table') -%}
    {%- set jump_rel = this.incorporate(path={"identifier": this.identifier ~ "__jump"}, type='table') -%}
    {%- set log_rel = this.incorporate(path={"identifier": this.identifier ~ "_iterations"}, type='table') -%}

    {%- set previous_edges = adapter.get_relation(database=edges_rel.database, schema=edges_rel.schema,
                                                  identifier=edges_rel.identifier) -%}
    {%- set incremental = existing_relation is not none and previous_edges is not none
                          and not should_full_refresh() -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {% do adapter.create_schema(target_relation) %}

    {# The current edges, each once, smaller node first. #}
    {% call statement('cc_edges') %}
        {{ cdp.create_scratch_table() }} {{ new_edges_rel }} as
        select distinct
            case when node_a < node_b then node_a else node_b end as node_a,
            case when node_a < node_b then node_b else node_a end as node_b
        from ({{ sql }}) as model_edges
        where node_a is not null and node_b is not null and node_a != node_b
    {% endcall %}

    {# Which nodes to (re)label: all of them, or only the components an edge change touches. #}
    {% if incremental %}
        {% call statement('cc_scope') %}
            {{ cdp.create_scratch_table() }} {{ scope_rel }} as
            with changed as (
                (select node_a, node_b from {{ new_edges_rel }} except select node_a, node_b from {{ edges_rel }})
                union all
                (select node_a, node_b from {{ edges_rel }} except select node_a, node_b from {{ new_edges_rel }})
            ),
            touched as (
                select node_a as node from changed
                union
                select node_b from changed
            ),
            touched_components as (
                select distinct c.component from {{ existing_relation }} as c
                inner join touched as t on c.node = t.node
            )
            select node from touched
            union
            select c.node from {{ existing_relation }} as c
            inner join touched_components as t on c.component = t.component
        {% endcall %}
        {% call statement('cc_init') %}
            {{ cdp.create_scratch_table() }} {{ labels_rel }} as
            select node, node as label from (
                select e.node_a as node from {{ new_edges_rel }} as e inner join {{ scope_rel }} as s on e.node_a = s.node
                union
                select e.node_b from {{ new_edges_rel }} as e inner join {{ scope_rel }} as s on e.node_b = s.node
            ) as nodes
        {% endcall %}
    {% else %}
        {% call statement('cc_init') %}
            {{ cdp.create_scratch_table() }} {{ labels_rel }} as
            select node, node as label from (
                select node_a as node from {{ new_edges_rel }}
                union
                select node_b from {{ new_edges_rel }}
            ) as nodes
        {% endcall %}
    {% endif %}

    {% set counts = run_query("select count(*) from " ~ labels_rel) %}
    {% set n_nodes = counts.columns[0].values()[0] %}
    {% do log(this.identifier ~ ": " ~ ("incremental" if incremental else "full") ~ " run over " ~ n_nodes ~ " nodes", info=True) %}

    {% set state = namespace(converged=false, rounds=0, changed=n_nodes, history=[]) %}
    {% for round in range(1, max_iterations + 1) %}
        {% if not state.converged %}
            {% call statement('cc_hook') %}
                {{ cdp.create_scratch_table() }} {{ next_rel }} as
                with neighbour_labels as (
                    select e.node_a as node, l.label from {{ new_edges_rel }} as e
                    inner join {{ labels_rel }} as l on e.node_b = l.node
                    union all
                    select e.node_b as node, l.label from {{ new_edges_rel }} as e
                    inner join {{ labels_rel }} as l on e.node_a = l.node
                ),
                smallest_next_to_node as (
                    select node, min(label) as label from neighbour_labels group by node
                ),
                hooks as (
                    select l.label as root, min(case when m.label < l.label then m.label else l.label end) as new_root
                    from {{ labels_rel }} as l
                    left join smallest_next_to_node as m on l.node = m.node
                    group by l.label
                )
                select l.node, h.new_root as label
                from {{ labels_rel }} as l
                inner join hooks as h on l.label = h.root
            {% endcall %}
            {% for jump in range(2) %}
                {% call statement('cc_jump') %}
                    {{ cdp.create_scratch_table() }} {{ jump_rel }} as
                    select n.node, coalesce(p.label, n.label) as label
                    from {{ next_rel }} as n
                    left join {{ next_rel }} as p on n.label = p.node
                {% endcall %}
                {% call statement('cc_swap') %}
                    {{ cdp.create_scratch_table() }} {{ next_rel }} as select * from {{ jump_rel }}
                {% endcall %}
            {% endfor %}
            {% set changed = run_query("select count(*) from " ~ next_rel ~ " as n inner join " ~ labels_rel
                                       ~ " as l on n.node = l.node where n.label != l.label") %}
            {% set state.changed = changed.columns[0].values()[0] %}
            {% set state.rounds = round %}
            {% do state.history.append(state.changed) %}
            {% do log(this.identifier ~ ": round " ~ round ~ ", " ~ state.changed ~ " labels changed", info=True) %}
            {% call statement('cc_advance') %}
                {{ cdp.create_scratch_table() }} {{ labels_rel }} as select * from {{ next_rel }}
            {% endcall %}
            {% if state.changed == 0 %}
                {% set state.converged = true %}
            {% endif %}
        {% endif %}
    {% endfor %}

    {% if not state.converged %}
        {{ exceptions.raise_compiler_error(
            this.identifier ~ ": connected components did not converge in " ~ max_iterations ~ " rounds ("
            ~ state.changed ~ " labels still changing). Raise var identity_max_iterations, or look for a value "
            ~ "that chains very many records (see identity_quarantine).") }}
    {% endif %}

    {% call statement('main') %}
        {% if incremental %}
            create or replace table {{ target_relation }} as
            select c.node, c.component from {{ existing_relation }} as c
            where not exists (select 1 from {{ scope_rel }} as s where s.node = c.node)
            union all
            select node, label as component from {{ labels_rel }}
        {% else %}
            create or replace table {{ target_relation }} as
            select node, label as component from {{ labels_rel }}
        {% endif %}
    {% endcall %}

    {% call statement('cc_log') %}
        {% if adapter.get_relation(database=log_rel.database, schema=log_rel.schema, identifier=log_rel.identifier) is none %}
            create table {{ log_rel }} (
                invocation_id varchar, run_started_at timestamp, mode varchar, nodes bigint,
                round integer, labels_changed bigint
            );
        {% endif %}
        insert into {{ log_rel }} values
        {%- for n in state.history %}
            ('{{ invocation_id }}', cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp),
             '{{ "incremental" if incremental else "full" }}', {{ n_nodes }}, {{ loop.index }}, {{ n }}){{ "," if not loop.last }}
        {%- endfor %}
    {% endcall %}

    {# Keep this build's edges for the next incremental run; drop the scratch tables. #}
    {% call statement('cc_keep_edges') %}
        {{ cdp.create_scratch_table() }} {{ edges_rel }} as select * from {{ new_edges_rel }}
    {% endcall %}
    {% do cdp.finish_graph_materialization(target_relation, [new_edges_rel, scope_rel, labels_rel, next_rel, jump_rel], post_hooks) %}
    {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}
