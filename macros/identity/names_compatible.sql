{#
    Whether two known first names can belong to one person: equal after nickname
    canonicalisation (Bob = Robert), one the start of the other (Chris, Christopher), or a
    typo apart (Jaro-Winkler at least `threshold`, on the names or on their canonical
    forms: Tina = Christina = Chrstina). Used to keep a shared email or phone (a couple's
    family address, a shared office line) from joining two people. Unknown names are
    decided by the caller.
#}
{% macro names_compatible(name_a, name_b, canonical_a, canonical_b, threshold=0.88) -%}
    (
        {{ canonical_a }} = {{ canonical_b }}
        or left({{ name_a }}, length({{ name_b }})) = {{ name_b }}
        or left({{ name_b }}, length({{ name_a }})) = {{ name_a }}
        or {{ cdp.jaro_winkler(name_a, name_b) }} >= {{ threshold }}
        or {{ cdp.jaro_winkler(canonical_a, canonical_b) }} >= {{ threshold }}
        or {{ cdp.jaro_winkler(canonical_a, name_b) }} >= {{ threshold }}
        or {{ cdp.jaro_winkler(name_a, canonical_b) }} >= {{ threshold }}
    )
{%- endmacro %}
