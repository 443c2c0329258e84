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
    hash of each, modulo a prime (macros/utils/fingerprints.sql).
    A build writes the devices whose fingerprint differs from the stored one, with
    changed_at = the build's start; a device that lost every link keeps a row with null
    fingerprint. A full refresh writes every device, changed now.
#}
{%- set build_at = cdp.build_started_at() -%}
{%- set stretch_key = cdp.surrogate_key(['profile_id', 'valid_from', 'valid_to', 'stretch_number', 'is_over_limit']) %}

with

links as (

    select * from {{ ref('int_device_links') }}

),

current_links as (

    select
        anonymous_id,
        count(*) as stretch_count,
        -- (the hash of one column, the stretch's surrogate key: the fingerprints stored
        -- before the macro existed stay valid)
        {{ cdp.fingerprint(cdp.fingerprint_row([stretch_key])) }} as links_fingerprint
    from links
    group by anonymous_id

),

changed as (

    {{ cdp.changed_fingerprints('current_links', 'anonymous_id', 'stretch_count', 'links_fingerprint') }}

),

final as (

    select
        anonymous_id,
        stretch_count,
        links_fingerprint,
        {{ build_at }} as changed_at
    from changed

)

select * from final
