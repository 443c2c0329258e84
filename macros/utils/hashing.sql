{#- The SHA-256 of a text expression as 64 lower-case hex digits (ad platforms' match keys). -#}
{% macro sha256_hex(expression) -%}
    {{ return(adapter.dispatch('sha256_hex', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__sha256_hex(expression) -%}
    sha2({{ expression }}, 256)
{%- endmacro %}

{% macro duckdb__sha256_hex(expression) -%}
    sha256({{ expression }})
{%- endmacro %}

{#-
    A deterministic bucket 0..buckets-1 from a text expression: the first 32 bits of its
    md5, so the same input lands in the same bucket on every engine and every run.
-#}
{% macro hash_bucket(expression, buckets) -%}
    {{ return(adapter.dispatch('hash_bucket', 'cdp')(expression, buckets)) }}
{%- endmacro %}

{% macro default__hash_bucket(expression, buckets) -%}
    mod(cast(('0x' || substr(md5({{ expression }}), 1, 8)) as bigint), {{ buckets }})
{%- endmacro %}

{% macro snowflake__hash_bucket(expression, buckets) -%}
    mod(to_number(substr(md5({{ expression }}), 1, 8), 'XXXXXXXX'), {{ buckets }})
{%- endmacro %}
