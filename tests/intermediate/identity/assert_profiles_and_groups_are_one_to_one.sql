-- A profile is a group: each group of int_identity_groups has one current profile, each
-- profile one group, and every profile holds its anchor record (else its id would not be
-- stable). Returns the offending groups and profiles.
with

groups as (

    select * from {{ ref('int_identity_groups') }}

),

record_profiles as (

    select * from {{ ref('int_identity_record_profiles') }}

),

assigned as (

    select
        g.group_id,
        p.profile_id,
        p.record_key,
        p.anchor_record_key
    from groups as g
    inner join record_profiles as p on g.record_key = p.record_key

),

groups_with_several_profiles as (

    select
        'group holds several profiles' as problem,
        cast(group_id as {{ dbt.type_string() }}) as id,
        count(distinct profile_id) as n
    from assigned
    group by group_id
    having count(distinct profile_id) > 1

),

profiles_with_several_groups as (

    select
        'profile spans several groups' as problem,
        profile_id as id,
        count(distinct group_id) as n
    from assigned
    group by profile_id
    having count(distinct group_id) > 1

),

profiles_without_anchor as (

    select
        'profile does not hold its anchor' as problem,
        profile_id as id,
        count(*) as n
    from assigned
    group by profile_id
    having count(case when record_key = anchor_record_key then 1 end) != 1

),

final as (

    select * from groups_with_several_profiles
    union all
    select * from profiles_with_several_groups
    union all
    select * from profiles_without_anchor

)

select * from final
