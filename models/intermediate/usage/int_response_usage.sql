{{ config(materialized='table') }}

with

response_done_events as (

    select
        response_id,
        session_id,
        resource_name,
        deployment_name,
        conversation_id,
        response_status,
        received_at,
        usage_type,
        total_tokens,
        input_tokens,
        output_tokens,
        input_text_tokens,
        input_audio_tokens,
        input_image_tokens,
        cached_tokens,
        cached_text_tokens,
        cached_audio_tokens,
        cached_image_tokens,
        output_text_tokens,
        output_audio_tokens,
        output_reasoning_tokens

    from {{ ref('int_events_deduplicated') }}
    where event_type = 'response.done'

),

sessions as (

    select
        session_id,
        model

    from {{ ref('int_sessions_configured') }}

),

fingerprinted as (

    -- a response.done logged twice under different event ids still bills once; copies that
    -- disagree on usage are flagged (below), never silently settled by picking one
    select
        response_done_events.*,
        concat_ws(
            ',',
            coalesce(cast(response_done_events.total_tokens as varchar), '-'),
            coalesce(cast(response_done_events.input_tokens as varchar), '-'),
            coalesce(cast(response_done_events.output_tokens as varchar), '-'),
            coalesce(cast(response_done_events.input_text_tokens as varchar), '-'),
            coalesce(cast(response_done_events.input_audio_tokens as varchar), '-'),
            coalesce(cast(response_done_events.input_image_tokens as varchar), '-'),
            coalesce(cast(response_done_events.cached_tokens as varchar), '-'),
            coalesce(cast(response_done_events.cached_text_tokens as varchar), '-'),
            coalesce(cast(response_done_events.cached_audio_tokens as varchar), '-'),
            coalesce(cast(response_done_events.cached_image_tokens as varchar), '-'),
            coalesce(cast(response_done_events.output_text_tokens as varchar), '-'),
            coalesce(cast(response_done_events.output_audio_tokens as varchar), '-')
        ) as usage_fingerprint

    from response_done_events

),

first_done_per_response as (

    select
        fingerprinted.*,
        count(*) over (partition by fingerprinted.response_id) as done_events,
        min(fingerprinted.usage_fingerprint) over (partition by fingerprinted.response_id)
        != max(fingerprinted.usage_fingerprint) over (partition by fingerprinted.response_id)
            as has_disagreeing_copies

    from fingerprinted
    qualify row_number() over (
            partition by fingerprinted.response_id order by fingerprinted.received_at
        ) = 1

),

counted as (

    select
        first_done_per_response.response_id,
        first_done_per_response.session_id,
        first_done_per_response.resource_name,
        first_done_per_response.deployment_name,
        sessions.model,
        first_done_per_response.conversation_id,
        first_done_per_response.response_status,
        first_done_per_response.received_at as responded_at,
        cast(first_done_per_response.received_at as date) as usage_date,
        first_done_per_response.usage_type is not null as has_usage,
        first_done_per_response.done_events,
        first_done_per_response.has_disagreeing_copies,
        first_done_per_response.input_tokens as reported_input_tokens,
        first_done_per_response.output_tokens as reported_output_tokens,
        first_done_per_response.total_tokens as reported_total_tokens,
        first_done_per_response.cached_tokens as reported_cached_tokens,
        coalesce(first_done_per_response.input_text_tokens, 0) as input_text_tokens,
        coalesce(first_done_per_response.input_audio_tokens, 0) as input_audio_tokens,
        coalesce(first_done_per_response.input_image_tokens, 0) as input_image_tokens,
        coalesce(first_done_per_response.cached_text_tokens, 0) as cached_text_tokens,
        coalesce(first_done_per_response.cached_audio_tokens, 0) as cached_audio_tokens,
        coalesce(first_done_per_response.cached_image_tokens, 0) as cached_image_tokens,
        coalesce(first_done_per_response.output_text_tokens, 0) as output_text_tokens,
        coalesce(first_done_per_response.output_audio_tokens, 0) as output_audio_tokens,
        coalesce(first_done_per_response.output_reasoning_tokens, 0) as output_reasoning_tokens

    from first_done_per_response
    left join sessions
        on first_done_per_response.session_id = sessions.session_id

),

totalled as (

    -- totals as reported; where a log left one out, the sum of its details
    select
        counted.*,
        coalesce(
            counted.reported_input_tokens,
            counted.input_text_tokens + counted.input_audio_tokens + counted.input_image_tokens
        ) as input_tokens,
        coalesce(
            counted.reported_cached_tokens,
            counted.cached_text_tokens + counted.cached_audio_tokens + counted.cached_image_tokens
        ) as cached_tokens,
        coalesce(
            counted.reported_output_tokens,
            counted.output_text_tokens + counted.output_audio_tokens
        ) as output_tokens

    from counted

),

checked as (

    select
        totalled.*,
        coalesce(
            totalled.reported_total_tokens, totalled.input_tokens + totalled.output_tokens
        ) as total_tokens,
        -- each documented invariant of response.done usage, named where it does not hold
        nullif(concat_ws(
            '; ',
            case
                when totalled.input_tokens
                    != totalled.input_text_tokens
                    + totalled.input_audio_tokens
                    + totalled.input_image_tokens
                    then 'input_tokens != text + audio + image'
            end,
            case
                when totalled.output_tokens
                    != totalled.output_text_tokens + totalled.output_audio_tokens
                    then 'output_tokens != text + audio'
            end,
            case
                when totalled.reported_total_tokens
                    != totalled.input_tokens + totalled.output_tokens
                    then 'total_tokens != input + output'
            end,
            case
                when totalled.cached_tokens
                    != totalled.cached_text_tokens
                    + totalled.cached_audio_tokens
                    + totalled.cached_image_tokens
                    then 'cached_tokens != sum of cached details'
            end,
            case
                when totalled.has_disagreeing_copies
                    then 'response.done logged ' || totalled.done_events || ' times with different usage'
            end,
            case
                when totalled.cached_text_tokens > totalled.input_text_tokens
                    or totalled.cached_audio_tokens > totalled.input_audio_tokens
                    or totalled.cached_image_tokens > totalled.input_image_tokens
                    then 'cached exceeds input for a modality'
            end
        ), '') as usage_violations

    from totalled

),

final as (

    select
        checked.response_id,
        checked.session_id,
        checked.resource_name,
        checked.deployment_name,
        checked.model,
        checked.conversation_id,
        checked.conversation_id is null as is_out_of_band,
        checked.response_status,
        checked.responded_at,
        checked.usage_date,
        checked.has_usage,
        checked.done_events,
        checked.input_text_tokens,
        checked.input_audio_tokens,
        checked.input_image_tokens,
        checked.cached_text_tokens,
        checked.cached_audio_tokens,
        checked.cached_image_tokens,
        checked.input_text_tokens - checked.cached_text_tokens as uncached_text_tokens,
        checked.input_audio_tokens - checked.cached_audio_tokens as uncached_audio_tokens,
        checked.input_image_tokens - checked.cached_image_tokens as uncached_image_tokens,
        checked.output_text_tokens,
        checked.output_audio_tokens,
        checked.output_reasoning_tokens,
        checked.input_tokens,
        checked.cached_tokens,
        checked.output_tokens,
        checked.total_tokens,
        checked.usage_violations is not null as has_usage_violation,
        checked.usage_violations

    from checked

)

select * from final
