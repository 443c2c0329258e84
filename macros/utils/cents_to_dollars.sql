{#- Stripe stores amounts in the currency's minor unit. -#}
{% macro cents_to_dollars(column) -%}
    cast({{ column }} as {{ dbt.type_numeric() }}) / 100
{%- endmacro %}
