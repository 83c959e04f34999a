{#
    One row per transcribed input audio item, linked to the response it fed: the first response
    the session created after the item's audio was committed. Items without a commit event (or
    logs without the response) keep a null response_id.
#}
with

events as (

    select
        session_id,
        resource_name,
        deployment_name,
        event_type,
        item_id,
        response_id,
        received_at,
        usage_type,
        input_tokens,
        input_text_tokens,
        input_audio_tokens,
        output_tokens,
        total_tokens,
        usage_seconds,
        error_message

    from {{ ref('int_events_deduplicated') }}
    where
        event_type in (
            'conversation.item.input_audio_transcription.completed',
            'conversation.item.input_audio_transcription.failed',
            'input_audio_buffer.committed',
            'response.created'
        )

),

transcriptions as (

    -- a completed transcription wins over a failed attempt of the same item
    select *
    from events
    where event_type like 'conversation.item.input_audio_transcription.%'
    qualify row_number() over (
            partition by item_id
            order by event_type = 'conversation.item.input_audio_transcription.completed' desc, received_at
        ) = 1

),

commits as (

    select
        item_id,
        min(received_at) as committed_at

    from events
    where event_type = 'input_audio_buffer.committed'
    group by item_id

),

responses_created as (

    select
        session_id,
        response_id,
        min(received_at) as created_at

    from events
    where event_type = 'response.created'
    group by session_id, response_id

),

committed as (

    select
        transcriptions.*,
        commits.committed_at

    from transcriptions
    left join commits
        on transcriptions.item_id = commits.item_id

),

next_response as (

    select
        committed.item_id,
        responses_created.response_id

    from committed
    inner join responses_created
        on
            committed.session_id = responses_created.session_id
            and committed.committed_at <= responses_created.created_at
    qualify row_number() over (
            partition by committed.item_id order by responses_created.created_at
        ) = 1

),

final as (

    select
        committed.item_id,
        committed.session_id,
        next_response.response_id,
        committed.resource_name,
        committed.deployment_name,
        case
            when committed.event_type like '%.completed' then 'completed' else 'failed'
        end as transcription_status,
        committed.usage_type,
        committed.input_tokens,
        committed.input_text_tokens,
        committed.input_audio_tokens,
        committed.output_tokens,
        committed.total_tokens,
        committed.usage_seconds,
        committed.error_message,
        committed.committed_at,
        committed.received_at as transcribed_at

    from committed
    left join next_response
        on committed.item_id = next_response.item_id

)

select * from final
