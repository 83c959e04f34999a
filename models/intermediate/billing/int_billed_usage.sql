{{ config(materialized='table') }}

with

rows_checked as (

    select * from {{ ref('int_bill_rows_classified') }}
    where is_azure_openai and charge_category = 'Usage'

),

aggregated as (

    select
        rows_checked.charge_date,
        rows_checked.normalised_resource_name as resource_name,
        rows_checked.sku_meter as meter_name,
        rows_checked.billing_currency,
        min(rows_checked.resource_id) as resource_id,
        min(rows_checked.region_id) as region_id,
        min(rows_checked.x_sku_meter_id) as meter_id,
        min(rows_checked.x_sku_meter_category) as meter_category,
        min(rows_checked.x_sku_meter_subcategory) as meter_subcategory,
        min(rows_checked.cost_class) as cost_class,
        min(rows_checked.meter_source) as meter_source,
        min(rows_checked.family) as family,
        min(rows_checked.meter_scope) as meter_scope,
        min(rows_checked.x_pricing_unit_description) as pricing_unit_description,
        min(rows_checked.block_size) as pricing_block_size,
        min(rows_checked.pricing_unit) as pricing_unit,
        sum(rows_checked.pricing_quantity) as pricing_quantity,
        sum(rows_checked.consumed_quantity) as consumed_quantity,
        sum(rows_checked.billed_quantity) as billed_quantity,
        sum(rows_checked.billed_tokens) as billed_tokens,
        sum(rows_checked.billed_hours) as billed_hours,
        max(rows_checked.list_unit_price) as list_unit_price,
        count(distinct rows_checked.list_unit_price) > 1 as has_several_unit_prices,
        sum(rows_checked.billed_cost) as billed_cost,
        sum(rows_checked.effective_cost) as effective_cost,
        sum(rows_checked.list_cost) as list_cost,
        sum(rows_checked.contracted_cost) as contracted_cost,
        count(*) as bill_rows,
        count(*) filter (where rows_checked.charge_class = 'Correction') as correction_rows,
        count(*) filter (where rows_checked.is_price_identity_ok = false) as price_identity_failures,
        count(*) filter (where rows_checked.is_price_identity_ok is null) as price_identity_unchecked,
        case
            when count(distinct rows_checked.consumed_quantity_basis) filter (
                    where rows_checked.consumed_quantity_basis not in ('zero', 'missing')
                ) > 1 then 'mixed'
            else coalesce(
                    max(rows_checked.consumed_quantity_basis) filter (
                        where rows_checked.consumed_quantity_basis not in ('zero', 'missing')
                    ),
                    max(rows_checked.consumed_quantity_basis)
                )
        end as consumed_quantity_basis,
        min(rows_checked.run_key) as run_key

    from rows_checked
    group by
        rows_checked.charge_date,
        rows_checked.normalised_resource_name,
        rows_checked.sku_meter,
        rows_checked.billing_currency

),

final as (

    select
        aggregated.*,
        aggregated.price_identity_failures = 0 as is_price_identity_ok,
        aggregated.consumed_quantity_basis in ('neither', 'mixed') as has_unexplained_consumed_quantity

    from aggregated

)

select * from final  -- noqa: AM04
