{#
    Every meter tokenrecon knows - the catalogue and every meter a landed bill uses - with what
    it bills, where its classification comes from, and whether the current bills use it.
#}
with

meters as (

    select * from {{ ref('int_meters_resolved') }}

),

billed as (

    select
        meter_key,
        count(*) as bill_rows,
        min(charge_date) as first_billed_date,
        max(charge_date) as last_billed_date,
        bool_or(is_azure_openai) as is_azure_openai

    from {{ ref('int_bill_rows_classified') }}
    where meter_key is not null and charge_category = 'Usage'
    group by meter_key

),

final as (

    select
        meters.meter_key,
        meters.meter_name,
        meters.product_name,
        meters.family,
        meters.model_version,
        meters.modality,
        meters.direction,
        meters.is_cached,
        meters.deployment_type,
        meters.service_tier,
        meters.workload,
        meters.pricing_unit,
        meters.block_size,
        meters.usage_field,
        meters.scope,
        meters.is_reconciled,
        meters.meter_source,
        meters.parse_note,
        meters.unit_of_measure,
        meters.unit_price_usd,
        meters.unit_price_min_usd,
        meters.unit_price_max_usd,
        meters.effective_start_date,
        coalesce(billed.bill_rows, 0) > 0 as is_billed,
        coalesce(billed.bill_rows, 0) as bill_rows,
        billed.first_billed_date,
        billed.last_billed_date

    from meters
    left join billed
        on meters.meter_key = billed.meter_key
    -- the catalogue, and the meters the bills use as Azure OpenAI (other services' meters are
    -- in marts.fct_billed_costs)
    where meters.meter_source = 'catalogue' or billed.is_azure_openai

)

select * from final
