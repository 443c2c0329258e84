{{ config(
    materialized='incremental',
    unique_key=['record_key', 'valid_from'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    full_refresh=false,
    post_hook="{{ cdp.privacy_delete_forgotten({'record_key': 'record_key', 'profile_id': 'profile_id'}) }}",
) }}

{#
    Which profile each person record belonged to, build after build (one row per record
    and period). This is where profile ids are kept stable:

    - A profile is named after its anchor, the record seen first (earliest first_seen_at,
      then record key): profile_id = 'p_' and 16 hex digits of md5(anchor record key).
    - A group of records that holds the anchor of an existing profile keeps that profile's
      id, however many records it gains. If it holds the anchors of several (two profiles
      merged), it keeps the id of the one whose anchor was seen first: that is the survivor.
    - A part split off a profile, without its anchor, takes the id of the earliest profile
      anchor it holds, or a new id from its own anchor; if that id was ever used before (the
      part's anchor once named a profile that was later absorbed), a new id from the anchor
      and the build time, so that an id never comes back to mean another profile.

    `--full-refresh` leaves this model alone (full_refresh=false): rebuilding it would
    rename every profile. To start the ids over on purpose, drop the table.

    Each build closes the rows of records whose profile changed (valid_to = this build's
    start) and opens new ones; identity_merge_events reads the changes.
#}
{%- set build_at = cdp.build_started_at() -%}

with

groups as (

    select * from {{ ref('int_identity_groups') }}

),

records as (

    select * from {{ ref('int_identity_records') }}

),

grouped_records as (

    select
        g.record_key,
        g.group_id,
        r.first_seen_at,
        row_number() over (partition by g.group_id order by r.first_seen_at, g.record_key) as rank_in_group
    from groups as g
    inner join records as r on g.record_key = r.record_key

),

anchors as (

    select
        group_id,
        record_key as anchor_record_key,
        first_seen_at as anchor_first_seen_at
    from grouped_records
    where rank_in_group = 1

),

{% if is_incremental() %}

previous as (

    select * from {{ this }}
    where valid_to is null

),

-- Previous profiles whose anchor record is in a group now: candidates to name the group.
inherited as (

    select
        g.group_id,
        p.profile_id,
        p.anchor_record_key,
        p.anchor_first_seen_at,
        row_number() over (
            partition by g.group_id order by p.anchor_first_seen_at, p.anchor_record_key
        ) as preference
    from (select distinct profile_id, anchor_record_key, anchor_first_seen_at from previous) as p
    inner join grouped_records as g on p.anchor_record_key = g.record_key

),

-- Every id ever given, so that a part split off never takes an id that meant another profile.
used_ids as (

    select distinct profile_id from {{ this }}

),

naming as (

    select
        a.group_id,
        case
            when i.profile_id is not null then i.profile_id
            when u.profile_id is null then 'p_' || left(md5(a.anchor_record_key), 16)
            -- the anchor's own id is taken (it named a profile that was later absorbed): a fresh one
            else 'p_' || left(md5(a.anchor_record_key || '@{{ run_started_at.isoformat() }}'), 16)
        end as profile_id,
        coalesce(i.anchor_record_key, a.anchor_record_key) as anchor_record_key,
        coalesce(i.anchor_first_seen_at, a.anchor_first_seen_at) as anchor_first_seen_at
    from anchors as a
    left join inherited as i on a.group_id = i.group_id and i.preference = 1
    left join used_ids as u on 'p_' || left(md5(a.anchor_record_key), 16) = u.profile_id

),

{% else %}

    naming as (

        select
            group_id,
            'p_' || left(md5(anchor_record_key), 16) as profile_id,
            anchor_record_key,
            anchor_first_seen_at
        from anchors

    ),

{% endif %}

current_assignment as (

    select
        g.record_key,
        n.profile_id,
        n.anchor_record_key,
        n.anchor_first_seen_at
    from grouped_records as g
    inner join naming as n on g.group_id = n.group_id

),

{% if is_incremental() %}

-- Records whose profile changed or which are gone: their open row closes now.
closed as (

    select
        p.record_key,
        p.profile_id,
        p.anchor_record_key,
        p.anchor_first_seen_at,
        p.valid_from,
        {{ build_at }} as valid_to,
        p.opened_by_invocation_id,
        '{{ invocation_id }}' as closed_by_invocation_id
    from previous as p
    left join current_assignment as c on p.record_key = c.record_key
    where c.record_key is null or c.profile_id != p.profile_id

),

opened as (

    select
        c.record_key,
        c.profile_id,
        c.anchor_record_key,
        c.anchor_first_seen_at,
        {{ build_at }} as valid_from,
        cast(null as {{ dbt.type_timestamp() }}) as valid_to,
        '{{ invocation_id }}' as opened_by_invocation_id,
        cast(null as {{ dbt.type_string() }}) as closed_by_invocation_id
    from current_assignment as c
    left join previous as p on c.record_key = p.record_key
    where p.record_key is null or p.profile_id != c.profile_id

),

final as (

    select * from closed
    union all
    select * from opened

)

{% else %}

    final as (

        select
            record_key,
            profile_id,
            anchor_record_key,
            anchor_first_seen_at,
            {{ build_at }} as valid_from,
            cast(null as {{ dbt.type_timestamp() }}) as valid_to,
            '{{ invocation_id }}' as opened_by_invocation_id,
            cast(null as {{ dbt.type_string() }}) as closed_by_invocation_id
        from current_assignment

    )

{% endif %}

select * from final
