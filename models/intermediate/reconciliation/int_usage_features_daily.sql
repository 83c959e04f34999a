{#
    Usage features per usage date x resource, for the hypotheses and the fitted formula:
    responses, user speech seconds (server VAD), transcription usage (tokens and seconds).
#}
with

responses as (

    select
        usage_date,
        resource_name,
        count(*) as responses
    from {{ ref('int_response_usage') }}
    where not has_usage_violation  -- left out of the sums, as in int_api_usage_by_meter
    group by all

),

sessions as (

    select
        session_date as usage_date,
        resource_name,
        sum(user_speech_seconds) as user_speech_seconds
    from {{ ref('int_session_usage') }}
    group by all

),

transcriptions as (

    select
        usage_date,
        resource_name,
        coalesce(sum(input_audio_tokens), 0) as transcription_audio_tokens,
        coalesce(sum(input_text_tokens), 0) as transcription_text_tokens,
        coalesce(sum(output_tokens), 0) as transcription_output_tokens,
        coalesce(sum(duration_seconds), 0) as transcription_seconds
    from {{ ref('int_transcription_usage') }}
    group by all

),

days as (

    select
        usage_date,
        resource_name
    from responses
    union
    select
        usage_date,
        resource_name
    from transcriptions

),

final as (

    select
        days.usage_date,
        days.resource_name,
        coalesce(responses.responses, 0) as responses,
        coalesce(sessions.user_speech_seconds, 0) as user_speech_seconds,
        coalesce(transcriptions.transcription_audio_tokens, 0) as transcription_audio_tokens,
        coalesce(transcriptions.transcription_text_tokens, 0) as transcription_text_tokens,
        coalesce(transcriptions.transcription_output_tokens, 0) as transcription_output_tokens,
        coalesce(transcriptions.transcription_seconds, 0) as transcription_seconds

    from days
    left join responses
        on days.usage_date = responses.usage_date and days.resource_name = responses.resource_name
    left join sessions
        on days.usage_date = sessions.usage_date and days.resource_name = sessions.resource_name
    left join transcriptions
        on
            days.usage_date = transcriptions.usage_date
            and days.resource_name = transcriptions.resource_name

)

select * from final
