{#
    A model id as sessions and deployments name it -> (family, version) of the meter grammar:
    `gpt-realtime-mini-2025-12-15` -> family `gpt-realtime-mini`, version `1215` (MMDD of the
    date stamp); an alias without a date has no version; `whisper-1` is the `whisper` family.
#}
{% macro model_family(model) -%}
    case
        when lower({{ model }}) like 'whisper%' then 'whisper'
        else regexp_replace(lower(trim({{ model }})), '-[0-9]{4}-[0-9]{2}-[0-9]{2}$', '')
    end
{%- endmacro %}
