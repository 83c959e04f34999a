{% macro delete_days_to_rebuild(upstream_relation, day_column) %}
    {#- pre-hook of a model incremental by day: its rebuilt days go before they are inserted
        again, so a day that now holds fewer rows (or none) holds exactly what it should -#}
    {%- set days = days_to_rebuild(upstream_relation, day_column) -%}
    {%- if days is not none and days.rebuild | length > 0 -%}
        delete from {{ this }} where {{ value_in(day_column, days.rebuild, 'date') }}
    {%- endif -%}
{% endmacro %}
