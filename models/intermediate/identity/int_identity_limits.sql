{{ config(materialized='view') }}

{# The per-profile limits of identity_rules, one row per limited linking identifier type. #}
select
    identifier_type,
    max_per_profile
from {{ ref('identity_rules') }}
where is_link and max_per_profile is not null
