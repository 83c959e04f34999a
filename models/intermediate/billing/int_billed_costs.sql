{{ config(materialized='table') }}

{#
    The whole bill of the current export runs, nothing left out: every bill row, classified
    (int_bill_rows_classified), summed per run, charge date, billing currency and what it is.
    Money is summed within one billing currency only; BilledCost, EffectiveCost and ListCost are
    never added to each other. run_cost is the cost column of the run's own dataset (BilledCost
    of FOCUS, the cost of an actual or amortized cost export): what fct_export_run_totals checks.
#}
with

bill_rows as (

    select * from {{ ref('int_bill_rows_classified') }}

),

aggregated as (

    select
        bill_rows.run_key,
        bill_rows.cost_dataset,
        bill_rows.charge_date,
        bill_rows.billing_currency,
        bill_rows.cost_class,
        bill_rows.charge_category,
        coalesce(bill_rows.charge_class, '') as charge_class,
        coalesce(bill_rows.service_name, '') as service_name,
        coalesce(bill_rows.x_sku_meter_category, '') as meter_category,
        coalesce(bill_rows.x_sku_meter_subcategory, '') as meter_subcategory,
        coalesce(bill_rows.normalised_resource_name, '') as resource_name,
        coalesce(bill_rows.sku_meter, '') as meter_name,
        min(bill_rows.pricing_unit) as pricing_unit,
        sum(bill_rows.billed_quantity) as billed_quantity,
        sum(bill_rows.billed_cost) as billed_cost,
        sum(bill_rows.run_cost) as run_cost,
        sum(bill_rows.effective_cost) as effective_cost,
        sum(bill_rows.list_cost) as list_cost,
        count(*) as bill_rows

    from bill_rows
    group by
        bill_rows.run_key,
        bill_rows.cost_dataset,
        bill_rows.charge_date,
        bill_rows.billing_currency,
        bill_rows.cost_class,
        bill_rows.charge_category,
        coalesce(bill_rows.charge_class, ''),
        coalesce(bill_rows.service_name, ''),
        coalesce(bill_rows.x_sku_meter_category, ''),
        coalesce(bill_rows.x_sku_meter_subcategory, ''),
        coalesce(bill_rows.normalised_resource_name, ''),
        coalesce(bill_rows.sku_meter, '')

),

final as (

    select
        aggregated.*,
        aggregated.cost_class like 'azure_openai%' as is_azure_openai,
        aggregated.charge_class = 'Correction' as is_correction

    from aggregated

)

select * from final
