{{ config(materialized='table') }}

with

transcriptions as (

    select * from {{ ref('int_transcriptions_linked') }}

),

sessions as (

    select
        session_id,
        model,
        transcription_model

    from {{ ref('int_sessions_configured') }}

),

final as (

    select
        transcriptions.item_id,
        transcriptions.session_id,
        transcriptions.response_id,
        transcriptions.resource_name,
        transcriptions.deployment_name,
        sessions.model as session_model,
        sessions.transcription_model,
        transcriptions.transcription_status,
        transcriptions.usage_type,
        transcriptions.input_text_tokens,
        transcriptions.input_audio_tokens,
        transcriptions.input_tokens,
        transcriptions.output_tokens,
        transcriptions.total_tokens,
        transcriptions.usage_seconds as duration_seconds,
        transcriptions.error_message,
        transcriptions.committed_at,
        transcriptions.transcribed_at,
        cast(transcriptions.transcribed_at as date) as usage_date

    from transcriptions
    left join sessions
        on transcriptions.session_id = sessions.session_id

)

select * from final
