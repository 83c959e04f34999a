{#
    API usage per usage date x resource x meter: every response's (and transcription's) usage
    unpivoted into the usage fields meters bill (documented semantics), then matched to the
    meter of its model family, version and deployment type. Where several meters fit (1K and 1M
    meters of one family), the one the bill uses for that resource wins, then the exact
    version, then the newest price.
#}
with

responses as (

    -- a response whose usage breaks an invariant is left out of the sums (counted in
    -- fct_data_quality): its negative uncached counts would bill nothing real
    select * from {{ ref('int_response_usage') }}
    where not has_usage_violation

),

transcriptions as (

    select * from {{ ref('int_transcription_usage') }}

),

models as (

    select * from {{ ref('int_usage_models_resolved') }}

),

meters as (

    select * from {{ ref('int_meters_resolved') }}

),

billed_meters as (

    select distinct
        resource_name,
        lower(meter_name) as meter_key
    from {{ ref('int_billed_usage') }}

),

response_fields as (

    -- one row per response and billed usage field: (tokens under the documented semantics,
    -- tokens of the input modality including cached)
    select
        responses.usage_date,
        responses.resource_name,
        responses.deployment_name,
        responses.model,
        fields.usage_field,
        fields.api_tokens,
        fields.api_tokens_including_cached,
        1 as responses
    from responses
    cross join lateral (
        values
        ('uncached_text_tokens', responses.uncached_text_tokens, responses.input_text_tokens),
        ('cached_text_tokens', responses.cached_text_tokens, responses.cached_text_tokens),
        ('uncached_audio_tokens', responses.uncached_audio_tokens, responses.input_audio_tokens),
        ('cached_audio_tokens', responses.cached_audio_tokens, responses.cached_audio_tokens),
        ('uncached_image_tokens', responses.uncached_image_tokens, responses.input_image_tokens),
        ('cached_image_tokens', responses.cached_image_tokens, responses.cached_image_tokens),
        ('output_text_tokens', responses.output_text_tokens, responses.output_text_tokens),
        ('output_audio_tokens', responses.output_audio_tokens, responses.output_audio_tokens)
    ) as fields (usage_field, api_tokens, api_tokens_including_cached)

),

transcription_fields as (

    select
        transcriptions.usage_date,
        transcriptions.resource_name,
        transcriptions.deployment_name,
        transcriptions.session_model as model,
        transcriptions.transcription_model,
        fields.usage_field,
        fields.api_tokens,
        fields.api_tokens as api_tokens_including_cached,
        0 as responses
    from transcriptions
    cross join
        lateral (
            values
            ('transcription_input_audio_tokens', cast(transcriptions.input_audio_tokens as decimal(38, 6))),
            ('transcription_input_text_tokens', cast(transcriptions.input_text_tokens as decimal(38, 6))),
            ('transcription_output_tokens', cast(transcriptions.output_tokens as decimal(38, 6))),
            ('transcription_hours', cast(transcriptions.duration_seconds / 3600 as decimal(38, 6)))
        ) as fields (usage_field, api_tokens)
    where fields.api_tokens is not null

),

with_models as (

    select
        response_fields.usage_date,
        response_fields.resource_name,
        response_fields.usage_field,
        models.family,
        models.model_version,
        models.deployment_type,
        cast(response_fields.api_tokens as decimal(38, 6)) as api_tokens,
        cast(response_fields.api_tokens_including_cached as decimal(38, 6)) as api_tokens_including_cached,
        response_fields.responses
    from response_fields
    left join models
        on
            response_fields.resource_name = models.resource_name
            and response_fields.deployment_name is not distinct from models.deployment_name
            and response_fields.model is not distinct from models.announced_model

    union all

    select
        transcription_fields.usage_date,
        transcription_fields.resource_name,
        transcription_fields.usage_field,
        {{ model_family('transcription_fields.transcription_model') }},
        {{ model_version('transcription_fields.transcription_model') }},
        models.deployment_type,
        transcription_fields.api_tokens,
        transcription_fields.api_tokens_including_cached,
        transcription_fields.responses
    from transcription_fields
    left join models
        on
            transcription_fields.resource_name = models.resource_name
            and transcription_fields.deployment_name is not distinct from models.deployment_name
            and transcription_fields.model is not distinct from models.announced_model

),

summed as (

    select
        with_models.usage_date,
        with_models.resource_name,
        with_models.family,
        with_models.model_version,
        with_models.deployment_type,
        with_models.usage_field,
        sum(with_models.api_tokens) as api_tokens,
        sum(with_models.api_tokens_including_cached) as api_tokens_including_cached,
        sum(with_models.responses) as responses
    from with_models
    group by all
    having sum(with_models.api_tokens_including_cached) > 0

),

candidates as (

    select
        summed.*,
        meters.meter_key,
        row_number() over (
            partition by
                summed.usage_date, summed.resource_name, summed.family,
                summed.model_version, summed.deployment_type, summed.usage_field
            order by
                billed_meters.meter_key is not null desc,
                meters.model_version is not distinct from summed.model_version desc,
                meters.effective_start_date desc nulls last,
                meters.meter_key asc
        ) as preference
    from summed
    left join meters
        on
            summed.family = meters.family
            and summed.deployment_type = meters.deployment_type
            and summed.usage_field = meters.usage_field
            and (
                meters.model_version is null
                or summed.model_version is null
                or summed.model_version = meters.model_version
            )
    left join billed_meters
        on
            summed.resource_name = billed_meters.resource_name
            and meters.meter_key = billed_meters.meter_key

),

final as (

    select
        candidates.usage_date,
        candidates.resource_name,
        candidates.family,
        candidates.model_version,
        candidates.deployment_type,
        candidates.usage_field,
        candidates.meter_key,
        candidates.api_tokens,
        candidates.api_tokens_including_cached,
        candidates.responses
    from candidates
    where candidates.preference = 1

)

select * from final
