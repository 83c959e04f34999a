{{ config(materialized='table') }}

with

events as (

    select
        session_id,
        resource_name,
        deployment_name,
        direction,
        event_type,
        item_id,
        received_at,
        audio_start_ms,
        audio_end_ms,
        audio_payload_bytes

    from {{ ref('int_events_deduplicated') }}
    where session_id is not null

),

sessions as (

    select * from {{ ref('int_sessions_configured') }}

),

responses as (

    select
        session_id,
        response_status,
        input_text_tokens,
        input_audio_tokens,
        cached_text_tokens,
        cached_audio_tokens,
        output_text_tokens,
        output_audio_tokens,
        input_tokens,
        output_tokens,
        total_tokens

    from {{ ref('int_response_usage') }}

),

transcriptions as (

    select
        session_id,
        total_tokens,
        duration_seconds

    from {{ ref('int_transcription_usage') }}

),

event_summary as (

    select
        session_id,
        arg_min(resource_name, received_at) as resource_name,
        arg_min(deployment_name, received_at) as deployment_name,
        min(received_at) as first_event_at,
        max(received_at) as last_event_at,
        count(*) as events,
        count(*) filter (where direction = 'client') as client_events,
        count(*) filter (where event_type = 'error') as error_events,
        coalesce(sum(audio_payload_bytes) filter (
            where event_type = 'response.output_audio.delta'
        ), 0) as output_audio_bytes,
        coalesce(sum(audio_payload_bytes) filter (
            where event_type = 'input_audio_buffer.append'
        ), 0) as input_audio_appended_bytes

    from events
    group by session_id

),

speech_turns as (

    -- server VAD: speech_started (prefix padding included) to speech_stopped (silence included)
    select
        session_id,
        item_id,
        min(audio_start_ms) filter (
            where event_type = 'input_audio_buffer.speech_started'
        ) as audio_start_ms,
        max(audio_end_ms) filter (
            where event_type = 'input_audio_buffer.speech_stopped'
        ) as audio_end_ms

    from events
    where event_type in ('input_audio_buffer.speech_started', 'input_audio_buffer.speech_stopped')
    group by session_id, item_id

),

speech_summary as (

    select
        session_id,
        count(*) as speech_turns,
        -- exact milliseconds: a sum of decimals is the same in any order, unlike floats
        sum(audio_end_ms - audio_start_ms) * cast('0.001' as decimal(18, 3)) as user_speech_seconds

    from speech_turns
    where audio_end_ms >= audio_start_ms
    group by session_id

),

response_summary as (

    select
        session_id,
        count(*) as responses,
        count(*) filter (where response_status = 'cancelled') as cancelled_responses,
        count(*) filter (where response_status = 'failed') as failed_responses,
        sum(input_text_tokens) as input_text_tokens,
        sum(input_audio_tokens) as input_audio_tokens,
        sum(cached_text_tokens) as cached_text_tokens,
        sum(cached_audio_tokens) as cached_audio_tokens,
        sum(output_text_tokens) as output_text_tokens,
        sum(output_audio_tokens) as output_audio_tokens,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(total_tokens) as total_tokens

    from responses
    group by session_id

),

transcription_summary as (

    select
        session_id,
        count(*) as transcriptions,
        sum(duration_seconds) as transcription_seconds,
        sum(total_tokens) as transcription_tokens

    from transcriptions
    group by session_id

),

final as (

    select
        event_summary.session_id,
        event_summary.resource_name,
        event_summary.deployment_name,
        sessions.model,
        sessions.session_type,
        sessions.transcription_model,
        event_summary.first_event_at,
        event_summary.last_event_at,
        cast(event_summary.first_event_at as date) as session_date,
        event_summary.events,
        event_summary.client_events,
        event_summary.client_events > 0 as has_client_events,
        event_summary.error_events,
        coalesce(response_summary.responses, 0) as responses,
        coalesce(response_summary.cancelled_responses, 0) as cancelled_responses,
        coalesce(response_summary.failed_responses, 0) as failed_responses,
        coalesce(response_summary.input_text_tokens, 0) as input_text_tokens,
        coalesce(response_summary.input_audio_tokens, 0) as input_audio_tokens,
        coalesce(response_summary.cached_text_tokens, 0) as cached_text_tokens,
        coalesce(response_summary.cached_audio_tokens, 0) as cached_audio_tokens,
        coalesce(response_summary.output_text_tokens, 0) as output_text_tokens,
        coalesce(response_summary.output_audio_tokens, 0) as output_audio_tokens,
        coalesce(response_summary.input_tokens, 0) as input_tokens,
        coalesce(response_summary.output_tokens, 0) as output_tokens,
        coalesce(response_summary.total_tokens, 0) as total_tokens,
        sessions.output_audio_format,
        sessions.output_audio_rate,
        sessions.output_audio_format is null as is_output_audio_format_assumed,
        event_summary.output_audio_bytes,
        event_summary.output_audio_bytes
        / {{ audio_bytes_per_second('sessions.output_audio_format', 'sessions.output_audio_rate') }}
            as output_audio_seconds,
        coalesce(speech_summary.speech_turns, 0) as speech_turns,
        coalesce(speech_summary.user_speech_seconds, 0) as user_speech_seconds,
        event_summary.input_audio_appended_bytes,
        case
            when event_summary.client_events > 0
                then event_summary.input_audio_appended_bytes
                    / {{ audio_bytes_per_second('sessions.input_audio_format', 'sessions.input_audio_rate') }}
        end as input_audio_appended_seconds,
        coalesce(transcription_summary.transcriptions, 0) as transcriptions,
        transcription_summary.transcription_seconds,
        transcription_summary.transcription_tokens

    from event_summary
    left join sessions
        on event_summary.session_id = sessions.session_id
    left join response_summary
        on event_summary.session_id = response_summary.session_id
    left join speech_summary
        on event_summary.session_id = speech_summary.session_id
    left join transcription_summary
        on event_summary.session_id = transcription_summary.session_id

)

select * from final
