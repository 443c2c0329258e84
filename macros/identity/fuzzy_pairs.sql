{#-
    What an incremental build of int_identity_fuzzy_pairs redoes, shared by the model and
    its hooks.

    A candidate pair exists when its two records share a usable block (int_identity_fuzzy_
    blocks) in which that block's rule pairs them, and they are in different base components.
    Its comparison levels are a function of its two records alone. So between two builds a
    pair can appear, go or change only if
    - one of its records changed (new, edited, deleted, or moved to another base component:
      int_identity_fuzzy_block_keys rewrote its keys, built_at after the last build), or
    - a block both its records are in changed status (became usable or unusable, small or
      large) because other records joined or left it.
    The pairs of changed records are generated again from their keys; the pairs of unchanged
    records in blocks whose status changed are checked again against every block the two
    share. Everything else is kept.

    The statuses of the last build are kept in `<model>__blocks` (written by the post-hook
    fuzzy_pairs_keep_blocks, with the build's start in built_at, which is also the watermark of
    changed records). Without that table an incremental build recomputes every pair.
-#}

{#-
    Whether a usable block pairs two of its records (aliases of their int_identity_fuzzy_block_keys
    rows and of the block's int_identity_fuzzy_blocks row): records of different base
    components, and for a large email_name block one of them without a name.
-#}
{% macro fuzzy_block_pairs(a, b, block) -%}
    {{ a }}.component != {{ b }}.component
    and (
        {{ a }}.block_rule != 'email_name' or {{ block }}.block_status = 'small'
        or {{ a }}.is_nameless or {{ b }}.is_nameless
    )
{%- endmacro %}

{% macro fuzzy_pairs_state() -%}
    {{ return(this.incorporate(path={"identifier": this.identifier ~ "__blocks"}, type='table')) }}
{%- endmacro %}

{#- Whether this build updates the pairs (the table and its kept block statuses exist). -#}
{% macro fuzzy_pairs_is_incremental() -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set state = cdp.fuzzy_pairs_state() -%}
    {{ return(adapter.get_relation(database=state.database, schema=state.schema, identifier=state.identifier) is not none) }}
{%- endmacro %}

{#- The node ids of the records whose keys changed since the last build (a query). -#}
{% macro fuzzy_pairs_changed_nodes(block_keys) -%}
    select node_id from {{ block_keys }}
    where built_at > (select max(built_at) from {{ cdp.fuzzy_pairs_state() }})
{%- endmacro %}

{#-
    CTEs (changed_nodes, flipped_blocks, flipped_members, flipped_pairs): the records changed
    since the last build, and the pairs of unchanged records in blocks whose status changed.
-#}
{% macro fuzzy_pairs_affected_ctes(block_keys, blocks) -%}
    {%- set state = cdp.fuzzy_pairs_state() -%}
    changed_nodes as (
        select distinct node_id from ({{ cdp.fuzzy_pairs_changed_nodes(block_keys) }}) as c
    ),

    flipped_blocks as (
        select
            coalesce(b.block_rule, s.block_rule) as block_rule,
            coalesce(b.block_key, s.block_key) as block_key
        from {{ blocks }} as b
        full outer join (select * from {{ state }} where block_rule is not null) as s
            on b.block_rule = s.block_rule and b.block_key = s.block_key
        where b.block_status is distinct from s.block_status
    ),

    flipped_members as (
        select
            k.node_id,
            k.record_key,
            k.block_rule,
            k.block_key
        from {{ block_keys }} as k
        inner join flipped_blocks as f on k.block_rule = f.block_rule and k.block_key = f.block_key
        where not exists (select 1 from changed_nodes as c where c.node_id = k.node_id)
    ),

    flipped_pairs as (
        select distinct
            a.node_id as node_a,
            b.node_id as node_b
        from flipped_members as a
        inner join flipped_members as b
            on a.block_rule = b.block_rule and a.block_key = b.block_key and a.record_key < b.record_key
    )
{%- endmacro %}

{#-
    Pre-hooks: delete the pairs an incremental build decides again: those of changed records,
    then those of unchanged records in blocks whose status changed (every pair when the kept
    statuses are missing). Two statements, each plain DELETE ... WHERE / USING on both engines.
-#}
{% macro fuzzy_pairs_delete_changed(block_keys) -%}
    {%- if not (execute and is_incremental()) -%}
        select 1 as nothing_to_delete
    {%- elif not cdp.fuzzy_pairs_is_incremental() -%}
        delete from {{ this }}
    {%- else -%}
        {%- set changed = cdp.fuzzy_pairs_changed_nodes(block_keys) -%}
        delete from {{ this }}
        where node_a in ({{ changed }}) or node_b in ({{ changed }})
    {%- endif -%}
{%- endmacro %}

{% macro fuzzy_pairs_delete_flipped(block_keys, blocks) -%}
    {%- if not cdp.fuzzy_pairs_is_incremental() -%}
        select 1 as nothing_to_delete
    {%- else -%}
        delete from {{ this }}
        using (
            with {{ cdp.fuzzy_pairs_affected_ctes(block_keys, blocks) }}
            select node_a, node_b from flipped_pairs
        ) as f
        where {{ this.identifier }}.node_a = f.node_a and {{ this.identifier }}.node_b = f.node_b
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: keep this build's block statuses, and its start as the next build's watermark. -#}
{% macro fuzzy_pairs_keep_blocks(blocks) -%}
    {{ cdp.create_scratch_table() }} {{ cdp.fuzzy_pairs_state() }} as
    select
        block_rule,
        block_key,
        block_status,
        {{ cdp.build_started_at() }} as built_at
    from {{ blocks }}
    union all
    -- (the watermark, also when no block is usable)
    select
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        {{ cdp.build_started_at() }}
{%- endmacro %}
