{#
    One row per session: its configuration as last announced by session.created /
    session.updated (a field a later update leaves out keeps its earlier value).
#}
with

session_events as (

    select
        session_id,
        received_at,
        session_model,
        session_type,
        transcription_model,
        input_audio_format,
        input_audio_rate,
        output_audio_format,
        output_audio_rate

    from {{ ref('int_events_deduplicated') }}
    where
        event_type in ('session.created', 'session.updated', 'transcription_session.updated')
        and session_id is not null

),

configured as (

    select
        session_id,
        arg_max(session_model, received_at) filter (where session_model is not null) as model,
        arg_max(session_type, received_at) filter (where session_type is not null) as session_type,
        arg_max(transcription_model, received_at) filter (where transcription_model is not null) as transcription_model,
        arg_max(input_audio_format, received_at) filter (where input_audio_format is not null) as input_audio_format,
        arg_max(input_audio_rate, received_at) filter (where input_audio_rate is not null) as input_audio_rate,
        arg_max(output_audio_format, received_at) filter (where output_audio_format is not null) as output_audio_format,
        arg_max(output_audio_rate, received_at) filter (where output_audio_rate is not null) as output_audio_rate

    from session_events
    group by session_id

)

select * from configured
