{#
    Every event with its session. Envelopes and session events name it; a bare event of a log
    belongs to the last session named before it in the same file (a log of one connection).

    Incremental by file: landed logs never change (a content id names each), so a build appends
    the files this table does not hold yet, each whole - a file's order decides its sessions -
    reading only the partition folders they landed in. _built_at says which build added a row;
    int_events_deduplicated rebuilds the days of rows added after its own last build.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail'
) }}

{%- set new_files = files_to_append(ref('stg_realtime__events'), 'source_file_id', 'event_date') %}

with

events as (

    select * from {{ ref('stg_realtime__events') }}
    where
        {{ value_in('event_date', new_files.days, 'date') if new_files is not none else '1 = 1' }}
        and {{ value_in('source_file_id', new_files.files) if new_files is not none else '1 = 1' }}

),

sessionised as (

    select
        events.source_file_id,
        events.source_uri,
        events.record_number,
        events.received_at,
        events.event_date,
        events.resource_name,
        events.deployment_name,
        events.direction,
        coalesce(
            events.session_id,
            last_value(events.session_id ignore nulls) over file_order
        ) as session_id,
        case
            when events.session_id is not null then events.session_id_source
            when last_value(events.session_id ignore nulls) over file_order is not null
                then 'file_context'
        end as session_id_source,
        events.event_type,
        events.wire_event_type,
        events.event_id,
        events.event_key,
        events.response_id,
        events.response_status,
        events.conversation_id,
        events.item_id,
        events.previous_item_id,
        events.session_model,
        events.session_type,
        events.transcription_model,
        events.input_audio_format,
        events.input_audio_rate,
        events.output_audio_format,
        events.output_audio_rate,
        events.usage_type,
        events.total_tokens,
        events.input_tokens,
        events.output_tokens,
        events.input_text_tokens,
        events.input_audio_tokens,
        events.input_image_tokens,
        events.cached_tokens,
        events.cached_text_tokens,
        events.cached_audio_tokens,
        events.cached_image_tokens,
        events.output_text_tokens,
        events.output_audio_tokens,
        events.output_reasoning_tokens,
        events.usage_seconds,
        events.audio_start_ms,
        events.audio_end_ms,
        events.audio_payload_bytes,
        events.error_type,
        events.error_code,
        events.error_message,
        {{ build_timestamp() }} as _built_at

    from events
    window file_order as (
        partition by events.source_file_id
        order by events.record_number
        rows between unbounded preceding and current row
    )

)

select * from sessionised
