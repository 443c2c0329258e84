{#
    Record pairs that share a linking identifier value, one row per pair and value.

    Values that are blocked, or carried by more records than the quarantine threshold,
    make no pairs here (the second are judged by int_identity_quarantine).

    For identifier types whose rule requires it (email, phone), a value carried by records
    with first names that cannot belong to one person (a couple's family inbox, a shared
    office line) is shared, not an identity: it links only records whose names agree, and
    records without a name get no link from it (else they would bridge the two people).
    Such pairs are kept, with is_link false, for identity_conflicts.
#}
with

identifiers as (

    select * from {{ ref('int_identifiers_normalized') }}

),

identifier_values as (

    select * from {{ ref('int_identity_values') }}

),

rules as (

    select * from {{ ref('identity_rules') }}
    where is_link

),

records as (

    select * from {{ ref('int_identity_records') }}

),

nicknames as (

    select * from {{ ref('name_nicknames') }}

),

named_records as (

    select
        r.record_key,
        r.node_id,
        r.first_name,
        coalesce(n.canonical_name, r.first_name) as canonical_first_name
    from records as r
    left join nicknames as n on r.first_name = n.nickname

),

linkable as (

    select
        i.record_key,
        i.identifier_type,
        i.identifier_value,
        i.first_seen_at,
        r.priority,
        r.requires_name_match
    from identifiers as i
    inner join rules as r on i.identifier_type = r.identifier_type
    inner join identifier_values as v
        on i.identifier_type = v.identifier_type and i.identifier_value = v.identifier_value
    where not v.is_blocked and not v.is_quarantine_candidate

),

pairs as (

    select
        a.record_key as record_a,
        b.record_key as record_b,
        a.identifier_type,
        a.identifier_value,
        a.priority,
        a.requires_name_match,
        -- A link exists from the moment both records carry the value.
        greatest(coalesce(a.first_seen_at, b.first_seen_at), coalesce(b.first_seen_at, a.first_seen_at)) as linked_at
    from linkable as a
    inner join linkable as b
        on
            a.identifier_type = b.identifier_type
            and a.identifier_value = b.identifier_value
            and a.record_key < b.record_key

),

named_pairs as (

    select
        p.*,
        ra.node_id as node_a,
        rb.node_id as node_b,
        ra.first_name is not null and rb.first_name is not null as both_named,
        ra.first_name is not null and rb.first_name is not null
        and {{ cdp.names_compatible('ra.first_name', 'rb.first_name',
                                   'ra.canonical_first_name', 'rb.canonical_first_name') }} as names_agree
    from pairs as p
    inner join named_records as ra on p.record_a = ra.record_key
    inner join named_records as rb on p.record_b = rb.record_key

),

shared_values as (

    select distinct
        identifier_type,
        identifier_value
    from named_pairs
    where requires_name_match and both_named and not names_agree

),

final as (

    select
        p.record_a,
        p.record_b,
        p.node_a,
        p.node_b,
        p.identifier_type as rule,
        p.identifier_type,
        p.identifier_value,
        p.priority,
        p.linked_at,
        s.identifier_value is not null as is_shared_value,
        not p.requires_name_match or s.identifier_value is null or p.names_agree as is_link
    from named_pairs as p
    left join shared_values as s
        on p.identifier_type = s.identifier_type and p.identifier_value = s.identifier_value

)

select * from final
