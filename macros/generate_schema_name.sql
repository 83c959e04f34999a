{#
    Models build into the schema named in dbt_project.yml (staging, intermediate, marts) exactly,
    not dbt's default "<target schema>_<custom schema>", so users read `marts.fct_response_usage`.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
