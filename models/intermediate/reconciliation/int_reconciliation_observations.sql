{#
    One row per usage date x resource x billed token meter: what the bill charged (the target of
    the fitted formula) next to every usage feature of that day and resource that could explain
    it. API token features are per usage field, summed over the resource's models.
#}
with

reconciled as (

    select * from {{ ref('int_meter_reconciliation') }}
    where
        pricing_unit = 'tokens'
        and reconciliation_status not in ('unmapped_meter', 'unlinked_usage', 'out_of_scope')

),

api_fields as (

    select
        usage_date,
        resource_name,
        sum(api_tokens) filter (where usage_field = 'uncached_text_tokens') as uncached_text_tokens,
        sum(api_tokens) filter (where usage_field = 'cached_text_tokens') as cached_text_tokens,
        sum(api_tokens) filter (where usage_field = 'uncached_audio_tokens') as uncached_audio_tokens,
        sum(api_tokens) filter (where usage_field = 'cached_audio_tokens') as cached_audio_tokens,
        sum(api_tokens) filter (where usage_field = 'output_text_tokens') as output_text_tokens,
        sum(api_tokens) filter (where usage_field = 'output_audio_tokens') as output_audio_tokens
    from reconciled
    group by all

),

features as (

    select * from {{ ref('int_usage_features_daily') }}

),

final as (

    select
        reconciled.usage_date,
        reconciled.resource_name,
        reconciled.meter_name,
        reconciled.usage_field,
        cast(reconciled.billed_tokens as double) as billed_tokens,
        cast(coalesce(api_fields.uncached_text_tokens, 0) as double) as uncached_text_tokens,
        cast(coalesce(api_fields.cached_text_tokens, 0) as double) as cached_text_tokens,
        cast(coalesce(api_fields.uncached_audio_tokens, 0) as double) as uncached_audio_tokens,
        cast(coalesce(api_fields.cached_audio_tokens, 0) as double) as cached_audio_tokens,
        cast(coalesce(api_fields.output_text_tokens, 0) as double) as output_text_tokens,
        cast(coalesce(api_fields.output_audio_tokens, 0) as double) as output_audio_tokens,
        cast(coalesce(features.responses, 0) as double) as responses,
        cast(coalesce(features.user_speech_seconds, 0) as double) as user_speech_seconds,
        cast(coalesce(features.transcription_seconds, 0) as double) as transcription_seconds,
        cast(coalesce(features.transcription_audio_tokens, 0) as double) as transcription_audio_tokens,
        cast(coalesce(features.transcription_output_tokens, 0) as double) as transcription_output_tokens

    from reconciled
    left join api_fields
        on reconciled.usage_date = api_fields.usage_date and reconciled.resource_name = api_fields.resource_name
    left join features
        on reconciled.usage_date = features.usage_date and reconciled.resource_name = features.resource_name

)

select * from final
