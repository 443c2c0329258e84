-- Indentation rules off for this model: its incremental branch is a CTE in a Jinja block,
-- which the linter's indentation rules cannot lay out.
-- noqa: disable=LT02
{{ config(
    materialized='incremental',
    unique_key='anonymous_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook="{{ cdp.privacy_delete_forgotten({'anonymous_id': 'anonymous_id'}) }}",
) }}

{#
    When each device's links last changed: one row per device (Segment anonymous_id) that
    has, or once had, links in int_device_links. profile_events reads it so that an
    incremental build re-attributes the anonymous calls of the devices whose links changed
    since its last build, and no others.

    A device's links (each stretch's profile, valid_from, valid_to, stretch number and
    is_over_limit) are summarised as a fingerprint: their number and the sum of a 63-bit
    hash of each, modulo a prime (order does not matter; each engine's own hash, stable on
    that engine).
    A build writes the devices whose fingerprint differs from the stored one, with
    changed_at = the build's start; a device that lost every link keeps a row with null
    fingerprint. A full refresh writes every device, changed now.
#}
{%- set build_at = cdp.build_started_at() -%}
{%- set stretch_hash = cdp.node_id(cdp.surrogate_key(
    ['profile_id', 'valid_from', 'valid_to', 'stretch_number', 'is_over_limit'])) %}

with

links as (

    select * from {{ ref('int_device_links') }}

),

current_links as (

    select
        anonymous_id,
        count(*) as stretch_count,
        -- (modulo a prime below 2^63: the sum stays a bigint however many stretches)
        cast(sum({{ stretch_hash }}) % 9223372036854775783 as {{ dbt.type_bigint() }}) as links_fingerprint
    from links
    group by anonymous_id

),

{% if is_incremental() %}

stored as (

    select * from {{ this }}

),

changed as (

    select
        coalesce(c.anonymous_id, s.anonymous_id) as anonymous_id,
        c.stretch_count,
        c.links_fingerprint
    from current_links as c
    full outer join stored as s on c.anonymous_id = s.anonymous_id
    where
        s.anonymous_id is null
        -- Links gone (written once: a stored row without links stays as it is).
        or (c.anonymous_id is null and s.stretch_count is not null)
        or c.stretch_count != s.stretch_count
        or c.links_fingerprint != s.links_fingerprint

),

{% else %}

changed as (

    select * from current_links

),

{% endif %}

final as (

    select
        anonymous_id,
        stretch_count,
        links_fingerprint,
        {{ build_at }} as changed_at
    from changed

)

select * from final
