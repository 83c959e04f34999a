{#
    One row per distinct event. The same log landed twice (a rotated log overlapping its
    successor, a log that grew and was read again, two loggers on one connection) repeats
    events; a server event is the same when its event_id agrees. An event without one (client
    events such as input_audio_buffer.append, whose ids are optional) is the same only as the
    same record of the same log (fingerprint, file and line): identical appends - silence
    sends the same bytes many times - are distinct events, while a grown log read again still
    counts each once (a byte copy of a log never lands twice: ingest skips the content). The
    copy that knows its session wins, then the earliest received.

    Incremental by day: a build replaces the days that newly added events fall on, widened by
    var incremental_lookback_days either side, reading as many days more of context (copies
    of an event received on either side of midnight); other days stay as they are.
    `dbt build --full-refresh` rebuilds everything and gives the same table.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_days_to_rebuild(ref('int_events_sessionised'), 'event_date') }}"
) }}

{%- set days = days_to_rebuild(ref('int_events_sessionised'), 'event_date') %}

{%- set columns = [
    'source_file_id', 'source_uri', 'record_number', 'received_at', 'event_date',
    'resource_name', 'deployment_name', 'direction', 'session_id', 'session_id_source',
    'event_type', 'wire_event_type', 'event_id', 'event_key', 'response_id', 'response_status',
    'conversation_id', 'item_id', 'previous_item_id', 'session_model', 'session_type',
    'transcription_model', 'input_audio_format', 'input_audio_rate', 'output_audio_format',
    'output_audio_rate', 'usage_type', 'total_tokens', 'input_tokens', 'output_tokens',
    'input_text_tokens', 'input_audio_tokens', 'input_image_tokens', 'cached_tokens',
    'cached_text_tokens', 'cached_audio_tokens', 'cached_image_tokens', 'output_text_tokens',
    'output_audio_tokens', 'output_reasoning_tokens', 'usage_seconds', 'audio_start_ms',
    'audio_end_ms', 'audio_payload_bytes', 'error_type', 'error_code', 'error_message'
] %}

with

events as (

    select * from {{ ref('int_events_sessionised') }}
    where {{ value_in('event_date', days.context, 'date') if days is not none else '1 = 1' }}

),

ranked as (

    select
        events.*,
        row_number() over (
            partition by
                case
                    when events.event_key like 'sha1:%'
                        then concat(
                                events.event_key, '@', events.source_uri, ':',
                                cast(events.record_number as string)
                            )
                    else events.event_key
                end
            order by
                case when events.session_id is null then 1 else 0 end,
                events.received_at,
                events.source_uri,
                events.record_number
        ) as copy_number

    from events

),

final as (

    select
        {%- for column in columns %}
            ranked.{{ column }},
        {%- endfor %}
        {{ build_timestamp() }} as _built_at

    from ranked
    where
        ranked.copy_number = 1
        and {{ value_in('ranked.event_date', days.rebuild, 'date') if days is not none else '1 = 1' }}

)

select * from final
