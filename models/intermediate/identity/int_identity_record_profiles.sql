{#
    The current profile of every person record (the open rows of
    int_identity_profile_history), with the profile's anchor.
#}
select
    record_key,
    profile_id,
    anchor_record_key,
    anchor_first_seen_at,
    valid_from as assigned_at
from {{ ref('int_identity_profile_history') }}
where valid_to is null
