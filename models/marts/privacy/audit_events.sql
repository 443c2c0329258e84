{#
    The audit trail: one row per export (a sync run that sent or planned rows), privacy
    action (forget requested and completed, access export) and manual unmerge (a steward's
    cannot-link pair in seeds/identity/identity_cannot_link.csv), with what, when and by whom.
#}

with

privacy_actions as (

    select * from {{ ref('stg_privacy__audit_log') }}

),

sync_runs as (

    select * from {{ ref('stg_syncs__runs') }}

),

unmerges as (

    select * from {{ ref('identity_cannot_link') }}

),

final as (

    select
        'privacy:' || audit_id as audit_event_id,
        audit_action,
        actor,
        occurred_at,
        subject_sha256 as subject,
        details
    from privacy_actions

    union all

    select
        'sync:' || sync_run_id,
        case when is_dry_run then 'sync.dry_run' else 'sync.run' end,
        actor,
        started_at,
        sync_name,
        '{"status": "' || status || '", "destination": "' || destination || '", "rows_sent": '
        || cast(coalesce(rows_sent, 0) as {{ dbt.type_string() }}) || ', "rows_failed": '
        || cast(coalesce(rows_failed, 0) as {{ dbt.type_string() }}) || '}'
    from sync_runs

    union all

    select
        'unmerge:' || record_key_a || '|' || record_key_b,
        'identity.unmerge',
        requested_by,
        requested_at,
        record_key_a || ' / ' || record_key_b,
        reason
    from unmerges

)

select * from final
