{#
    The sessions attribution and journeys may count as touches: every session up to the
    as-of moment, except those of var('attribution_excluded_channels'). The only model of
    the attribution layer that reads sessions, so pointing the layer at another sessions
    model is one edit here. A view: it only selects and filters.
#}
{{ config(materialized='view') }}
{%- set excluded = var('attribution_excluded_channels', []) -%}
{%- if excluded is string or excluded is mapping or excluded is not iterable -%}
    {{ exceptions.raise_compiler_error("var('attribution_excluded_channels') in dbt_project.yml: expected a "
        ~ "list of channel names such as [direct], got " ~ excluded) }}
{%- endif -%}
{%- set quoted = [] -%}
{%- for channel in excluded -%}{%- do quoted.append(cdp.sql_string(channel)) -%}{%- endfor -%}
{%- set channel_filter = ('channel not in (' ~ quoted | join(', ') ~ ')') if excluded else 'true' %}

with

sessions as (

    select * from {{ ref('sessions') }}

),

final as (

    select
        session_id,
        profile_id,
        anonymous_id,
        started_at,
        ended_at,
        channel
    from sessions
    where
        started_at <= {{ cdp.as_of() }}
        and {{ channel_filter }}

)

select * from final
