{% macro files_to_append(source_relation, key_column, day_column) %}
    {#- the (file, day) pairs of `source_relation` whose file the model does not hold yet -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select distinct
            cast({{ key_column }} as {{ dbt.type_string() }}) as file_key,
            cast({{ day_column }} as {{ dbt.type_string() }}) as file_day
        from {{ source_relation }}
        where {{ key_column }} not in (select distinct {{ key_column }} from {{ this }})
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {%- set keys = [] -%}
    {%- set days = [] -%}
    {%- for row in rows -%}
        {%- if row[0] not in keys %}{% do keys.append(row[0]) %}{% endif -%}
        {%- if row[1] is not none and row[1] not in days %}{% do days.append(row[1]) %}{% endif -%}
    {%- endfor -%}
    {{ return({'files': keys | sort, 'days': days | sort}) }}
{% endmacro %}
