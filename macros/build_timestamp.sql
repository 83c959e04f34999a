{#
    When this dbt invocation started, as a timestamp literal: the _built_at of the rows an
    incremental model writes (the same for every model of a build). Outside dbt (a linter's
    templater) it is the current timestamp.
#}
{% macro build_timestamp() -%}
    {%- if run_started_at is defined -%}
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
    {%- else -%}
        current_timestamp
    {%- endif -%}
{%- endmacro %}
