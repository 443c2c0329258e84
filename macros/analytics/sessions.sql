{#
    Pre-hook of the incremental sessions mart: deletes the sessions of devices that have no
    Segment call left in profile_events (all purged by retention or a forget request). The
    model's own delete+insert only replaces devices that still have calls, so without this
    their old sessions would stay. A no-op on the first build and on a full refresh.
#}
{% macro sessions_delete_vanished_devices() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where not exists (
            select 1
            from {{ ref('profile_events') }} as e
            where
                e.source = 'segment'
                and e.anonymous_id = {{ this }}.anonymous_id
        )
    {%- else -%}
        select 1 as nothing_to_delete
    {%- endif -%}
{%- endmacro %}
