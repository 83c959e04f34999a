{#
    Generic test: every row satisfies a boolean SQL expression; fails with the rows that do not.
    Argument: expression. Restrict the rows tested with the test's own `config: where:`.
#}
{% test expression_is_true(model, expression, column_name=none) %}
    select *
    from {{ model }}
    where not ({{ expression }})
{% endtest %}
