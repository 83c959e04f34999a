{% macro value_in(column, values, type='string') %}
    {#- `column in (<values as literals>)`; false for no values. Values are escaped, and dates
        must be ISO dates, so nothing from the data becomes SQL text unchecked -#}
    {%- if values | length == 0 -%}
        1 = 0
    {%- else -%}
        {{ column }} in (
        {%- for value in values -%}
            {%- if type == 'date' -%}
                {%- set iso = modules.datetime.date.fromisoformat(value | string).isoformat() -%}
                cast('{{ iso }}' as date)
            {%- else -%}
                '{{ value | string | replace("'", "''") }}'
            {%- endif -%}
            {{- ", " if not loop.last -}}
        {%- endfor -%}
        )
    {%- endif -%}
{% endmacro %}
