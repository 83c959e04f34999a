{#
    MMDD of a model id's date stamp (`gpt-realtime-mini-2025-12-15` -> `1215`), the version the
    meter names carry; null for an alias without a date.
#}
{% macro model_version(model) -%}
    nullif(regexp_replace(
        regexp_extract(lower(trim({{ model }})), '-[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
        '^-[0-9]{4}-([0-9]{2})-([0-9]{2})$', '\1\2'
    ), '')
{%- endmacro %}
