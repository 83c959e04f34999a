{#
    Named explanations of the gap, evaluated per usage date x resource x model x meter: the
    billed tokens each hypothesis predicts, the residual, and which hypothesis fits best.
    - documented: the documented semantics (fct_meter_reconciliation.api_tokens);
    - cached_billed_as_uncached: cached input billed at the uncached meters (the input
      modality's total there, 0 on cached meters);
    - transcription_on_model_meters: input transcription billed under the realtime model's
      meters - token usage as is, duration usage at var audio_input_tokens_per_second;
    - instructions_overhead: a fixed number of hidden text-input tokens per response (estimated
      per resource and model by least squares over all days: sum(gap x n) / sum(n^2));
    - committed_audio_duration: user audio billed by VAD speech duration
      (x audio_input_tokens_per_second) instead of the reported audio tokens.
    Only metered token usage (not hourly or character meters) is explained.
#}
with

reconciled as (

    select *
    from {{ ref('int_meter_reconciliation') }}
    where
        reconciliation_status not in ('unmapped_meter', 'unlinked_usage', 'out_of_scope')
        and pricing_unit = 'tokens'

),

features as (

    select * from {{ ref('int_usage_features_daily') }}

),

with_features as (

    select
        reconciled.usage_date,
        reconciled.resource_name,
        reconciled.model,
        reconciled.meter_name,
        reconciled.usage_field,
        reconciled.api_tokens,
        reconciled.api_tokens_including_cached,
        reconciled.billed_tokens,
        coalesce(features.responses, 0) as responses,
        coalesce(features.user_speech_seconds, 0) as user_speech_seconds,
        coalesce(features.transcription_audio_tokens, 0)
        + coalesce(features.transcription_seconds, 0) * {{ var('audio_input_tokens_per_second') }}
            as transcription_audio_equivalent_tokens,
        coalesce(features.transcription_text_tokens, 0) as transcription_text_tokens,
        coalesce(features.transcription_output_tokens, 0) as transcription_output_tokens

    from reconciled
    left join features
        on
            reconciled.usage_date = features.usage_date
            and reconciled.resource_name = features.resource_name

),

overhead as (

    -- hidden text-input tokens per response, per resource and model, over all days
    select
        resource_name,
        model,
        greatest(
            coalesce(
                sum((billed_tokens - api_tokens) * responses) / nullif(sum(responses * responses), 0),
                0
            ),
            0
        ) as tokens_per_response
    from with_features
    where usage_field = 'uncached_text_tokens'
    group by all

),

predictions as (

    select
        with_features.*,
        hypothesis.name as hypothesis,
        hypothesis.hypothesis_order,
        hypothesis.predicted as predicted_billed_tokens
    from with_features
    left join overhead
        on
            with_features.resource_name = overhead.resource_name
            and with_features.model = overhead.model
    cross join lateral (
        values
        ('documented', 1, with_features.api_tokens),
        (
            'cached_billed_as_uncached',
            2,
            case
                when with_features.usage_field like 'uncached_%' then with_features.api_tokens_including_cached
                when with_features.usage_field like 'cached_%' then 0
                else with_features.api_tokens
            end
        ),
        (
            'transcription_on_model_meters',
            3,
            with_features.api_tokens + case with_features.usage_field
                when 'uncached_audio_tokens' then with_features.transcription_audio_equivalent_tokens
                when 'uncached_text_tokens' then with_features.transcription_text_tokens
                when 'output_text_tokens' then with_features.transcription_output_tokens
                else 0
            end
        ),
        (
            'instructions_overhead',
            4,
            with_features.api_tokens + case
                when with_features.usage_field = 'uncached_text_tokens'
                    then coalesce(overhead.tokens_per_response, 0) * with_features.responses
                else 0
            end
        ),
        (
            'committed_audio_duration',
            5,
            case
                when with_features.usage_field = 'uncached_audio_tokens'
                    then with_features.user_speech_seconds * {{ var('audio_input_tokens_per_second') }}
                else with_features.api_tokens
            end
        )
    ) as hypothesis (name, hypothesis_order, predicted)

),

scored as (

    select
        predictions.usage_date,
        predictions.resource_name,
        predictions.model,
        predictions.meter_name,
        predictions.usage_field,
        predictions.hypothesis,
        predictions.hypothesis_order,
        predictions.billed_tokens,
        cast(predictions.predicted_billed_tokens as decimal(38, 6)) as predicted_billed_tokens,
        cast(predictions.billed_tokens - predictions.predicted_billed_tokens as decimal(38, 6)) as residual_tokens,
        sum(abs(predictions.billed_tokens - predictions.predicted_billed_tokens)) over (
            partition by predictions.usage_date, predictions.resource_name, predictions.model, predictions.hypothesis
        ) as day_abs_residual_tokens

    from predictions

),

final as (

    select
        scored.*,
        -- ties go to the simpler explanation, in the order the hypotheses are listed above
        row_number() over (
            partition by scored.usage_date, scored.resource_name, scored.model, scored.meter_name
            order by abs(scored.residual_tokens), scored.hypothesis_order
        ) = 1 as is_best_for_meter,
        dense_rank() over (
            partition by scored.usage_date, scored.resource_name, scored.model
            order by scored.day_abs_residual_tokens, scored.hypothesis_order
        ) = 1 as is_best_for_day

    from scored

)

select * from final
