with

source as (

    select * from {{ source('realtime', 'events') }}

),

renamed as (

    select
        -- lineage
        regexp_extract(source.filename, '([0-9a-f]{32})-[0-9]+\.parquet$', 1) as source_file_id,
        source.source_uri,
        source.record_number,

        -- when, where
        timezone('UTC', source.received_at) as received_at,
        -- the partition folder the record landed in (event_date=YYYY-MM-DD, the UTC date it was
        -- received): a filter on it with literal dates reads only those folders' files
        cast(
            nullif(regexp_extract(source.filename, 'event_date=([0-9]{4}-[0-9]{2}-[0-9]{2})', 1), '')
            as date
        ) as event_date,
        source.resource_name,
        source.deployment_name,
        source.direction,

        -- identity
        source.session_id,
        source.session_id_source,
        source.event_type,
        source.wire_event_type,
        source.event_id,
        source.event_key,
        source.response_id,
        source.response_status,
        source.conversation_id,
        source.item_id,
        source.previous_item_id,

        -- session configuration (session.created / session.updated only)
        source.session_config.model as session_model,
        source.session_config.session_type,
        source.session_config.transcription_model,
        source.session_config.input_audio_format,
        source.session_config.input_audio_rate,
        source.session_config.output_audio_format,
        source.session_config.output_audio_rate,

        -- usage (response.done and input audio transcription events only)
        source.usage.usage_type,
        source.usage.total_tokens,
        source.usage.input_tokens,
        source.usage.output_tokens,
        source.usage.input_text_tokens,
        source.usage.input_audio_tokens,
        source.usage.input_image_tokens,
        source.usage.cached_tokens,
        source.usage.cached_text_tokens,
        source.usage.cached_audio_tokens,
        source.usage.cached_image_tokens,
        source.usage.output_text_tokens,
        source.usage.output_audio_tokens,
        source.usage.output_reasoning_tokens,
        -- exact, so sums do not depend on the order rows are added in
        cast(source.usage.usage_seconds as decimal(18, 6)) as usage_seconds,

        -- voice activity, audio and errors
        source.audio_start_ms,
        source.audio_end_ms,
        source.audio_payload_bytes,
        source.error.error_type,
        source.error.error_code,
        source.error.error_message,

        source.event_json

    from source

)

select * from renamed
