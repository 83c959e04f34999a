{{ config(materialized='table') }}

{%- set cost_classes = [
    'azure_openai_in_scope', 'azure_openai_out_of_scope', 'azure_openai_unmapped',
    'other_service', 'credit', 'adjustment', 'purchase', 'tax', 'other_charge'
] -%}
{#
    Does the bill add up? Per current export run and billing currency: the rows and cost (the
    BilledCost of a FOCUS run, the cost of an actual or amortized cost run) that `ingest costs` landed (counted while it wrote them) beside what the warehouse holds
    (marts.fct_billed_costs), split by what the cost is. A data test requires them equal on every
    build: a model that drops or doubles a bill row fails the build.
#}
with

runs as (

    select
        run_key,
        export_name,
        billing_month,
        rows_quarantined

    from {{ ref('int_export_runs_current') }}
    where is_current

),

landed as (

    select * from {{ ref('stg_focus__run_totals') }}

),

runs_with_totals as (

    -- a run landed before ingest counted totals has none: it is shown, not judged
    select distinct landed.run_key
    from landed

),

warehouse as (

    select
        run_key,
        billing_currency,
        sum(bill_rows) as warehouse_rows,
        sum(run_cost) as warehouse_billed_cost,
    {%- for cost_class in cost_classes %}
        coalesce(sum(run_cost) filter (where cost_class = '{{ cost_class }}'), 0)
            as {{ cost_class }}_cost{{ "," if not loop.last }}
    {%- endfor %}

    from {{ ref('int_billed_costs') }}
    group by run_key, billing_currency

),

joined as (

    select
        coalesce(runs.run_key, warehouse.run_key) as run_key,
        runs.export_name,
        runs.billing_month,
        coalesce(landed.billing_currency, warehouse.billing_currency) as billing_currency,
        runs.rows_quarantined as run_rows_quarantined,
        coalesce(landed.rows_landed, 0) as export_rows,
        coalesce(landed.billed_cost_landed, 0) as export_billed_cost,
        coalesce(warehouse.warehouse_rows, 0) as warehouse_rows,
        coalesce(warehouse.warehouse_billed_cost, 0) as warehouse_billed_cost,
    {%- for cost_class in cost_classes %}
        coalesce(warehouse.{{ cost_class }}_cost, 0) as {{ cost_class }}_cost{{ "," if not loop.last }}
    {%- endfor %}

    from runs
    left join landed
        on runs.run_key = landed.run_key
    full outer join warehouse
        on
            runs.run_key = warehouse.run_key
            and landed.billing_currency is not distinct from warehouse.billing_currency

),

final as (

    select
        joined.*,
        runs_with_totals.run_key is not null as has_landed_totals,
        runs_with_totals.run_key is null or (
            joined.export_rows = joined.warehouse_rows
            and joined.export_billed_cost = joined.warehouse_billed_cost
        ) as is_balanced

    from joined
    left join runs_with_totals
        on joined.run_key = runs_with_totals.run_key

)

select * from final
