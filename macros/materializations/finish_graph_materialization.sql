{#-
    The common end of the graph materializations (connected_components,
    limited_components): drop their scratch tables, persist docs, run the post-hooks
    around the commit.
-#}
{% macro finish_graph_materialization(target_relation, scratch_relations, post_hooks) %}
    {% for rel in scratch_relations %}
        {% do adapter.drop_relation(rel) %}
    {% endfor %}
    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do adapter.commit() %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
{% endmacro %}
