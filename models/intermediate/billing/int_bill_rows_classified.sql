{#
    Every bill row of the current export runs (int_export_runs_current), classified - nothing
    else is filtered out here, so the bill always adds up (fct_billed_costs,
    fct_export_run_totals):
    - service: Azure OpenAI / Foundry by facts about the row - its meter category or service name
      (vars ai_service_categories / ai_service_names) or its resource type
      (microsoft.cognitiveservices/accounts) - and, within that, Azure OpenAI when the meter
      subcategory says so, or (no subcategory) the meter is one the catalogue or parser knows;
    - cost_class: usage of Azure OpenAI meters the Realtime logs explain (azure_openai_in_scope),
      other Azure OpenAI meters (azure_openai_out_of_scope), Azure OpenAI meters nobody can
      classify (azure_openai_unmapped), usage of other services (other_service), and
      credit / adjustment / purchase / tax / other_charge as what they are.
    Rows come from int_bill_rows (FOCUS and cost details exports alike). Block size: the
    export's x_PricingBlockSize, else the block its unit of measure names (seed pricing_units,
    the FinOps toolkit's PricingUnits: `1M` = 1,000,000, `1 Hour` = 1), else the meter's.
    Quantities: PricingQuantity is in blocks when ListUnitPrice x PricingQuantity = ListCost
    holds, so billed_quantity = PricingQuantity x block size, in the meter's own unit
    (pricing_unit); billed_tokens only for token meters, billed_hours only for hourly ones.
    Whether ConsumedQuantity is in tokens or blocks is unconfirmed: each row says which it matches.
#}
with

costs as (

    select
        run_key,
        source_uri,
        source_row,
        cost_dataset,
        charge_period_start_at,
        charge_category,
        charge_class,
        billing_currency,
        service_name,
        resource_id,
        resource_name,
        resource_type,
        x_resource_type,
        region_id,
        sku_meter,
        x_sku_meter_id,
        x_sku_meter_category,
        x_sku_meter_subcategory,
        pricing_unit as export_pricing_unit,
        x_pricing_unit_description,
        x_pricing_block_size,
        pricing_quantity,
        consumed_quantity,
        consumed_unit,
        list_unit_price,
        billed_cost,
        effective_cost,
        list_cost,
        contracted_cost,
        run_cost

    from {{ ref('int_bill_rows') }}
    where run_key in (
            select current_runs.run_key from {{ ref('int_export_runs_current') }} as current_runs
            where current_runs.is_current
        )

),

pricing_units as (

    select
        unit_of_measure,
        pricing_block_size

    from {{ ref('pricing_units') }}

),

meters as (

    select
        meter_key,
        meter_source,
        family,
        scope,
        pricing_unit,
        block_size,
        is_reconciled

    from {{ ref('int_meters_resolved') }}

),

with_meters as (

    select
        costs.*,
        meters.meter_key,
        meters.meter_source,
        meters.family,
        meters.scope as meter_scope,
        meters.is_reconciled,
        meters.pricing_unit as meter_pricing_unit,
        meters.block_size as meter_block_size,
        pricing_units.pricing_block_size as unit_block_size,
        cast(costs.charge_period_start_at as date) as charge_date,
        lower(coalesce(
            costs.resource_name, regexp_extract(costs.resource_id, '[^/]+$')
        )) as normalised_resource_name,
        (
            lower(trim(costs.x_sku_meter_category)) in (
                {%- for category in var('ai_service_categories') %}
                    '{{ category | lower }}'{{ "," if not loop.last }}
                {%- endfor %}
            )
            or lower(trim(costs.service_name)) in (
                {%- for service in var('ai_service_names') %}
                    '{{ service | lower }}'{{ "," if not loop.last }}
                {%- endfor %}
            )
            or lower(coalesce(costs.x_resource_type, '')) = 'microsoft.cognitiveservices/accounts'
            or lower(coalesce(costs.resource_id, '')) like '%/providers/microsoft.cognitiveservices/accounts/%'
        ) as is_ai_service

    from costs
    left join meters
        on lower(trim(costs.sku_meter)) = meters.meter_key
    left join pricing_units
        on lower(trim(costs.x_pricing_unit_description)) = lower(pricing_units.unit_of_measure)

),

scoped as (

    select
        with_meters.*,
        -- by the subcategory where the bill names one (Llama, Grok, QnA Maker... share meter
        -- names such as `Provisioned Managed Global Unit` with Azure OpenAI); by the meter
        -- only where it names none
        with_meters.is_ai_service and (
            lower(coalesce(with_meters.x_sku_meter_subcategory, '')) like '%openai%'
            or (
                coalesce(trim(with_meters.x_sku_meter_subcategory), '') = ''
                and with_meters.meter_source in ('catalogue', 'parsed')
            )
        ) as is_azure_openai

    from with_meters

),

classified as (

    select
        scoped.*,
        case
            when scoped.charge_category = 'Usage'
                then
                    case
                        when not scoped.is_azure_openai then 'other_service'
                        when coalesce(scoped.meter_source, 'unclassified') = 'unclassified'
                            then 'azure_openai_unmapped'
                        when scoped.is_reconciled then 'azure_openai_in_scope'
                        else 'azure_openai_out_of_scope'
                    end
            when scoped.charge_category in ('Credit', 'Adjustment', 'Purchase', 'Tax')
                then lower(scoped.charge_category)
            else 'other_charge'
        end as cost_class,
        cast(coalesce(
            -- a block size outside 1..1e9 is not one (and would overflow)
            case when scoped.x_pricing_block_size between 1 and 1000000000 then scoped.x_pricing_block_size end,
            scoped.unit_block_size,
            scoped.meter_block_size,
            1
        ) as bigint) as block_size,
        coalesce(
            scoped.meter_pricing_unit,
            case
                when lower(scoped.sku_meter) like '%tokens'
                    or lower(scoped.export_pricing_unit) like '%tokens%' then 'tokens'
                when lower(scoped.sku_meter) like '% unit'
                    or lower(scoped.export_pricing_unit) like '%hour%' then 'hours'
                else 'other'
            end
        ) as pricing_unit

    from scoped

),

checked as (

    select
        classified.*,
        -- blocks at 6 decimals (a token of a 1M block, 3.6 ms of an hour): DECIMAL(38,18) x a
        -- block size would leave two integer digits
        cast(classified.pricing_quantity as decimal(38, 6)) * classified.block_size as billed_quantity,
        case
            when classified.pricing_unit = 'tokens'
                then cast(classified.pricing_quantity as decimal(38, 6)) * classified.block_size
        end as billed_tokens,
        case
            when classified.pricing_unit = 'hours'
                then cast(classified.pricing_quantity as decimal(38, 6)) * classified.block_size
        end as billed_hours,
        case
            when
                classified.list_unit_price is null or classified.list_unit_price = 0 or classified.list_cost is null
                then null
            -- unchecked beyond a billion (price or blocks): the product would not fit
            when abs(classified.list_unit_price) >= 1000000000 or abs(classified.pricing_quantity) >= 1000000000
                then null
            else abs(
                    cast(classified.list_unit_price as decimal(38, 10))
                    * cast(classified.pricing_quantity as decimal(38, 10))
                    - classified.list_cost
                ) <= {{ var('price_identity_tolerance') }}
        end as is_price_identity_ok,
        case
            when classified.consumed_quantity is null then 'missing'
            when classified.pricing_quantity = 0 and classified.consumed_quantity = 0 then 'zero'
            when abs(classified.pricing_quantity) >= 1000000000000 then 'neither'
            when classified.consumed_quantity
                = cast(classified.pricing_quantity as decimal(38, 6)) * classified.block_size then 'tokens'
            when classified.consumed_quantity = classified.pricing_quantity then 'blocks'
            else 'neither'
        end as consumed_quantity_basis

    from classified

)

select * from checked  -- noqa: AM04
