{{ config(materialized='table') }}

with

api_usage as (

    select * from {{ ref('int_api_usage_by_meter') }}

),

billed as (

    -- one row per day, resource and meter: tokens add up across billing currencies, money does
    -- not - a meter billed in two currencies on one day gets no cost (billing_currency multiple)
    select
        charge_date,
        resource_name,
        lower(meter_name) as meter_key,
        min(meter_name) as meter_name,
        case
            when count(distinct billing_currency) = 1 then min(billing_currency) else 'multiple'
        end as billing_currency,
        sum(billed_quantity) as billed_quantity,
        min(pricing_unit) as billed_pricing_unit,
        case when count(distinct billing_currency) = 1 then max(list_unit_price) end as list_unit_price,
        min(pricing_block_size) as pricing_block_size,
        case when count(distinct billing_currency) = 1 then sum(billed_cost) end as billed_cost

    from {{ ref('int_billed_usage') }}
    group by charge_date, resource_name, lower(meter_name)

),

meters as (

    select * from {{ ref('int_meters_resolved') }}

),

api_per_meter as (

    select
        api_usage.usage_date,
        api_usage.resource_name,
        coalesce(
            api_usage.meter_key,
            'unlinked: ' || coalesce(api_usage.family, 'unknown model') || ' ' || api_usage.usage_field
        ) as meter_key,
        api_usage.meter_key is null as is_unlinked_usage,
        min(api_usage.family) as usage_family,
        sum(api_usage.api_tokens) as api_tokens,
        sum(api_usage.api_tokens_including_cached) as api_tokens_including_cached,
        sum(api_usage.responses) as responses

    from api_usage
    group by all

),

joined as (

    select
        coalesce(api_per_meter.usage_date, billed.charge_date) as usage_date,
        coalesce(api_per_meter.resource_name, billed.resource_name) as resource_name,
        coalesce(api_per_meter.meter_key, billed.meter_key) as meter_key,
        billed.meter_name as billed_meter_name,
        coalesce(api_per_meter.is_unlinked_usage, false) as is_unlinked_usage,
        api_per_meter.usage_family,
        api_per_meter.api_tokens,
        api_per_meter.api_tokens_including_cached,
        api_per_meter.responses,
        billed.billing_currency,
        billed.billed_quantity,
        billed.billed_pricing_unit,
        billed.list_unit_price,
        billed.pricing_block_size,
        billed.billed_cost

    from api_per_meter
    full outer join billed
        on
            api_per_meter.usage_date = billed.charge_date
            and api_per_meter.resource_name = billed.resource_name
            and api_per_meter.meter_key = billed.meter_key

),

described as (

    select
        joined.*,
        coalesce(joined.billed_meter_name, meters.meter_name, joined.meter_key) as meter_name,
        meters.meter_source,
        coalesce(meters.family, joined.usage_family) as model,
        meters.modality,
        meters.direction,
        meters.is_cached,
        meters.deployment_type,
        coalesce(
            meters.pricing_unit,
            joined.billed_pricing_unit,
            case when joined.meter_key like '%transcription_hours' then 'hours' else 'tokens' end
        ) as pricing_unit,
        meters.scope,
        meters.is_reconciled,
        meters.usage_field,
        -- price per block: the export's where it has one, else the catalogue's (USD)
        coalesce(nullif(joined.list_unit_price, 0), meters.unit_price_usd) as unit_price,
        coalesce(joined.pricing_block_size, meters.block_size) as block_size,
        coalesce(joined.billing_currency, case when meters.unit_price_usd is not null then 'USD' end)
            as currency,
        joined.billing_currency = 'multiple' as has_multiple_currencies,
        -- API tokens at the price per block, in DECIMAL throughout (see macros/per_block.sql)
        case when coalesce(joined.billing_currency, '') != 'multiple' then cast(
                    coalesce(joined.api_tokens, 0)
                    * cast(
                        cast(
                            coalesce(nullif(joined.list_unit_price, 0), meters.unit_price_usd)
                            as decimal(38, 18)
                        )
                        -- 1 / block size is exact at 6 decimals; 18 + 18 would overflow
                        * cast(
                            {{ per_block('coalesce(joined.pricing_block_size, meters.block_size)') }}
                            as decimal(38, 6)
                        )
                        as decimal(38, 18)
                    )
                    as decimal(38, 18)
                )
        end as api_cost_estimate

    from joined
    left join meters
        on joined.meter_key = meters.meter_key

),

final as (

    select
        described.usage_date,
        described.resource_name,
        described.meter_name,
        described.model,
        described.modality,
        described.direction,
        described.is_cached,
        described.deployment_type,
        described.pricing_unit,
        described.scope as meter_scope,
        described.usage_field,
        described.meter_source,
        -- quantities in the meter's own unit (tokens, hours, characters, images...)
        coalesce(described.api_tokens, 0) as api_quantity,
        coalesce(described.api_tokens_including_cached, 0) as api_quantity_including_cached,
        coalesce(described.billed_quantity, 0) as billed_quantity,
        coalesce(described.billed_quantity, 0) - coalesce(described.api_tokens, 0) as quantity_gap,
        -- the same, for token meters only
        case when described.pricing_unit = 'tokens' then coalesce(described.api_tokens, 0) end as api_tokens,
        case
            when described.pricing_unit = 'tokens' then coalesce(described.api_tokens_including_cached, 0)
        end as api_tokens_including_cached,
        case when described.pricing_unit = 'tokens' then coalesce(described.billed_quantity, 0) end as billed_tokens,
        case
            when described.pricing_unit = 'tokens'
                then coalesce(described.billed_quantity, 0) - coalesce(described.api_tokens, 0)
        end as token_gap,
        round(
            described.billed_quantity / nullif(described.api_tokens_including_cached, 0), 2
        ) as billed_to_api_ratio,
        described.api_cost_estimate,
        case when not coalesce(described.has_multiple_currencies, false)
                then coalesce(described.billed_cost, 0)
        end as billed_cost,
        coalesce(described.billed_cost, 0) - described.api_cost_estimate as cost_gap,
        described.currency as billing_currency,
        described.unit_price,
        described.responses,
        described.is_unlinked_usage,
        case
            when described.is_unlinked_usage then 'unlinked_usage'
            -- a meter nobody can classify: reported, and `ingest validate` fails naming it
            when coalesce(described.meter_source, 'unclassified') = 'unclassified' then 'unmapped_meter'
            -- an Azure OpenAI meter Realtime logs cannot explain (chat, embeddings, images,
            -- provisioned throughput, fine-tuning, tools, text-to-speech): shown, not compared
            when not described.is_reconciled then 'out_of_scope'
            when coalesce(described.billed_quantity, 0) > 0 and coalesce(described.api_tokens, 0) = 0
                then 'billed_without_usage'
            when coalesce(described.api_tokens, 0) > 0 and coalesce(described.billed_quantity, 0) = 0
                then 'usage_without_billing'
            when coalesce(described.billed_quantity, 0) = 0 and coalesce(described.api_tokens, 0) = 0
                then 'matched'
            when abs(described.billed_quantity - described.api_tokens)
                <= {{ var('reconciliation_tolerance') }} * described.api_tokens
                then 'matched'
            when described.billed_quantity > described.api_tokens then 'over_billed'
            else 'under_billed'
        end as reconciliation_status

    from described

)

select * from final
