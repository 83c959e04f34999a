{#
    Every landed bill row of every cost dataset, in FOCUS's billed columns: FOCUS rows as they
    are, cost details rows (actual or amortized cost, EA or MCA) mapped the way the FinOps
    toolkit maps them (shared/reference/finops-toolkit/focus-mapping-from-actual-amortized.md):
    - Date -> ChargePeriodStart (a day); MeterName / MeterCategory / MeterSubCategory / MeterId
      -> SkuMeter / x_SkuMeterCategory / x_SkuMeterSubcategory / x_SkuMeterId;
    - Quantity (blocks of UnitOfMeasure) -> PricingQuantity; UnitOfMeasure ->
      x_PricingUnitDescription (int_bill_rows_classified resolves its block size);
      ConsumedQuantity is not in these exports;
    - ChargeType -> ChargeCategory: Usage, UnusedReservation, UnusedSavingsPlan -> Usage;
      Purchase -> Purchase; Refund -> Purchase with ChargeClass Correction; Tax -> Tax;
      RoundingAdjustment -> Adjustment; Credit -> Credit; anything else as it is (other_charge);
    - cost: an actual cost run's cost is BilledCost, an amortized run's is EffectiveCost; the
      other is the same amount where no commitment is involved (PricingModel OnDemand, Spot or
      none) and unknown (NULL) where one is. PayGPrice -> ListUnitPrice,
      PaygCostInBillingCurrency -> ListCost.
    run_cost is the cost column of the row's own run (BilledCost, or the cost details' cost):
    what ingest counted in the run's totals (fct_export_run_totals).
#}
with

runs as (

    select
        run_key,
        dataset_type

    from {{ ref('stg_focus__export_runs') }}

),

focus_rows as (

    select
        run_key,
        source_uri,
        source_row,
        'focus' as cost_dataset,
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
        pricing_unit,
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
        billed_cost as run_cost

    from {{ ref('stg_focus__costs') }}

),

details as (

    select
        details.*,
        coalesce(lower(details.pricing_model), 'ondemand') in ('ondemand', 'spot') as is_uncommitted,
        coalesce(runs.dataset_type = 'AmortizedCost', false) as is_amortized

    from {{ ref('stg_cost_details__costs') }} as details
    left join runs
        on details.run_key = runs.run_key

),

detail_rows as (

    select
        details.run_key,
        details.source_uri,
        details.source_row,
        'cost_details' as cost_dataset,
        details.charge_date_at as charge_period_start_at,
        case lower(details.charge_type)
            when 'usage' then 'Usage'
            when 'unusedreservation' then 'Usage'
            when 'unusedsavingsplan' then 'Usage'
            when 'purchase' then 'Purchase'
            when 'refund' then 'Purchase'
            when 'tax' then 'Tax'
            when 'roundingadjustment' then 'Adjustment'
            when 'credit' then 'Credit'
            else details.charge_type
        end as charge_category,
        case when lower(details.charge_type) = 'refund' then 'Correction' end as charge_class,
        details.billing_currency,
        cast(null as varchar) as service_name,
        details.resource_id,
        details.resource_name,
        cast(null as varchar) as resource_type,
        lower(regexp_extract(details.resource_id, '/providers/([^/]+/[^/]+)/', 1)) as x_resource_type,
        lower(replace(details.resource_location, ' ', '')) as region_id,
        details.meter_name as sku_meter,
        details.meter_id as x_sku_meter_id,
        details.meter_category as x_sku_meter_category,
        details.meter_sub_category as x_sku_meter_subcategory,
        cast(null as varchar) as pricing_unit,
        details.unit_of_measure as x_pricing_unit_description,
        cast(null as decimal(38, 18)) as x_pricing_block_size,
        details.quantity as pricing_quantity,
        cast(null as decimal(38, 18)) as consumed_quantity,
        cast(null as varchar) as consumed_unit,
        details.payg_price as list_unit_price,
        case
            when not details.is_amortized or details.is_uncommitted then details.cost_in_billing_currency
        end as billed_cost,
        case
            when details.is_amortized or details.is_uncommitted then details.cost_in_billing_currency
        end as effective_cost,
        details.payg_cost_in_billing_currency as list_cost,
        cast(null as decimal(38, 18)) as contracted_cost,
        details.cost_in_billing_currency as run_cost

    from details

),

unioned as (

    select * from focus_rows
    union all
    select * from detail_rows

)

select * from unioned
