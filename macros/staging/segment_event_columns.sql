{#
    The columns every Segment event table shares (identifies, tracks, pages, screens and
    each per-event table), renamed to our conventions. `id_alias` names the message id:
    `event_id` for tracks, `page_view_id` for pages, and so on.
#}
{% macro segment_event_columns(id_alias, page_context=true) -%}
        id as {{ id_alias }},
        anonymous_id,
        user_id,
        cast({{ cdp.source_column('timestamp') }} as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(original_timestamp as {{ dbt.type_timestamp() }}) as device_occurred_at,
        cast(sent_at as {{ dbt.type_timestamp() }}) as sent_at,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at,
        cast(uuid_ts as {{ dbt.type_timestamp() }}) as loaded_at,
        context_ip as ip_address,
        context_library_name as library_name,
        context_library_version as library_version,
        context_locale as locale,
        context_timezone as timezone,
        context_user_agent as user_agent,
        {%- if page_context %}
        context_page_path as page_path,
        context_page_title as page_title,
        context_page_url as page_url,
        context_page_referrer as page_referrer,
        context_page_search as page_search,
        {%- endif %}
        context_campaign_source as utm_source,
        context_campaign_medium as utm_medium,
        context_campaign_name as utm_campaign,
        context_campaign_term as utm_term,
        context_campaign_content as utm_content,
        context_app_name as app_name,
        context_app_version as app_version,
        context_app_build as app_build,
        context_device_id as device_id,
        context_device_manufacturer as device_manufacturer,
        context_device_model as device_model,
        context_device_type as device_type,
        context_device_advertising_id as advertising_id,
        context_device_ad_tracking_enabled as is_ad_tracking_enabled,
        context_os_name as os_name,
        context_os_version as os_version,
        context_screen_width as screen_width,
        context_screen_height as screen_height,
        context_network_wifi as is_on_wifi,
        context_network_carrier as network_carrier
{%- endmacro %}
