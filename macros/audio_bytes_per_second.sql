{#
    Bytes per second of an audio stream in a Realtime session format: PCM16 (audio/pcm, beta
    pcm16) is 2 bytes a sample; G.711 u-law / A-law (audio/pcmu, audio/pcma) 1 byte a sample.
    A missing format is the API default, PCM16 at 24 kHz = 48,000 bytes a second.
#}
{% macro audio_bytes_per_second(format_column, rate_column) -%}
    case
        when {{ format_column }} is null then 48000
        when {{ format_column }} = 'audio/pcm' then coalesce({{ rate_column }}, 24000) * 2
        when {{ format_column }} in ('audio/pcmu', 'audio/pcma') then coalesce({{ rate_column }}, 8000)
    end
{%- endmacro %}
