{#
    Links identity resolution refused, with the rule each would have broken: links cut
    because the profile would exceed a per-profile limit or join a cannot-link pair
    (int_identity_limit_decisions), pairs sharing an email or phone whose names say they
    are different people (a shared inbox or line), and devices past a profile's limit of
    new devices per window. One row per refused link.
#}
with

decisions as (

    select * from {{ ref('int_identity_limit_decisions') }}
    where not is_accepted

),

edges as (

    select * from {{ ref('int_identity_edges') }}

),

deterministic as (

    select * from {{ ref('int_identity_edges_deterministic') }}
    where not is_link

),

shared_values as (

    select * from {{ ref('int_identity_edges_shared_values') }}
    where not is_link

),

device_links as (

    select * from {{ ref('int_device_links') }}
    where is_over_limit

),

refused_links as (

    select
        'limit' as conflict_type,
        d.broken_rule,
        e.record_a,
        e.record_b,
        e.rule,
        e.identifier_value,
        e.linked_at
    from decisions as d
    inner join edges as e on d.edge_id = e.edge_id

    union all

    select
        'shared_value',
        identifier_type || ' carried by records with different first names',
        record_a,
        record_b,
        rule,
        identifier_value,
        linked_at
    from deterministic

    union all

    select
        'shared_value',
        identifier_type || ' carried by records with different first names',
        record_a,
        record_b,
        identifier_type,
        identifier_value,
        linked_at
    from shared_values

    union all

    select
        'device_limit',
        'anonymous_id: ' || cast(devices_in_window as {{ dbt.type_string() }}) || ' devices in '
        || cast(window_days as {{ dbt.type_string() }})
        || ' days > '
        || cast(max_per_profile as {{ dbt.type_string() }}),
        profile_id as record_a,
        anonymous_id as record_b,
        'anonymous_id' as rule,
        anonymous_id as identifier_value,
        valid_from as linked_at
    from device_links

),

final as (

    select
        {{ cdp.surrogate_key(['conflict_type', 'record_a', 'record_b', 'rule', 'identifier_value', 'linked_at']) }}
            as conflict_id,
        conflict_type,
        broken_rule,
        record_a,
        record_b,
        rule,
        identifier_value,
        linked_at
    from refused_links

)

select * from final
