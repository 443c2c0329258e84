{#
    The newest load of `source_name` the incremental profile_events holds (max loaded_at;
    1900-01-01 before any): a build takes that source's rows loaded at or after it.
#}
{% macro profile_events_loaded_since(source_name) -%}
    {{ cdp.watermark('loaded_at', "source = '" ~ source_name ~ "'") }}
{%- endmacro %}

{#
    Pre-hook of the incremental profile_events mart: deletes the events whose source row (a
    Klaviyo event, a Shopify order, a Zendesk ticket) came back deleted (_fivetran_deleted,
    or a Shopify test order) in a load since the newest one of that source the table holds.
    A full rebuild leaves those out; the model's delete+insert only replaces live rows. (A
    row deleted and restored in the same loads is deleted here and written back by the
    model.) Segment calls are not deleted at the source; a forget request or retention
    purges them (the post-hooks). A no-op on the first build and on a full refresh.
#}
{% macro profile_events_delete_reloaded() -%}
    {%- if is_incremental() -%}
        {%- set sources = [
            ('klaviyo', 'event', 'coalesce(_fivetran_deleted, false)'),
            ('shopify', 'order', 'coalesce(_fivetran_deleted, false) or coalesce(test, false)'),
            ('zendesk', 'ticket', 'coalesce(_fivetran_deleted, false)'),
        ] -%}
        delete from {{ this }}
        where
        {%- for source_name, table, gone in sources %}
            {{ "or " if not loop.first }}(source = '{{ source_name }}' and source_event_id in (
                select cast(id as {{ dbt.type_string() }}) from {{ source(source_name, table) }}
                where
                    ({{ gone }})
                    and _fivetran_synced >= {{ cdp.profile_events_loaded_since(source_name) }}
            ))
        {%- endfor %}
    {%- else -%}
        select 1 as nothing_to_delete
    {%- endif -%}
{%- endmacro %}
