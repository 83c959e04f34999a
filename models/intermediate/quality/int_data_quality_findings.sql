{#
    What is wrong with the user's data, found anywhere in the warehouse, one row per check x day
    x resource x subject: each finding is counted here and kept out of the sums where it would
    distort them, and never fails the build (dbt tests guard the models' own logic).
    - usage_violation: responses whose usage breaks a documented invariant or whose
      response.done was logged twice with different usage - left out of the reconciliation;
    - quarantined_records: records ingest could not land, per dataset and reason;
    - duplicate_bill_rows: identical rows within one current export run (all of them count: a
      real bill does not repeat a row, but tokenrecon will not guess which to drop);
    - unmapped_meter: Azure OpenAI usage on a meter nobody can classify;
    - incomplete_run: export runs that could not be landed whole, so never became current;
    - bill_rows_missing_values: rows without a charge date, a billing currency, or (usage) a meter.
#}
with

responses as (

    select
        usage_date,
        resource_name,
        usage_violations

    from {{ ref('int_response_usage') }}
    where has_usage_violation

),

quarantine as (

    select
        dataset,
        quarantine_reason,
        quarantined_at

    from {{ ref('stg_ingest__quarantined_records') }}

),

bill_rows as (

    select
        run_key,
        charge_date,
        normalised_resource_name,
        sku_meter,
        x_sku_meter_id,
        charge_category,
        charge_class,
        billing_currency,
        pricing_quantity,
        billed_cost,
        effective_cost,
        list_cost,
        cost_class

    from {{ ref('int_bill_rows_classified') }}

),

runs as (

    select
        run_key,
        billing_month,
        run_status,
        run_problems

    from {{ ref('stg_focus__export_runs') }}
    where run_status = 'incomplete'

),

usage_violations as (

    select
        'usage_violation' as check_name,
        responses.usage_date as check_date,
        responses.resource_name,
        responses.usage_violations as subject,
        count(*) as affected_records,
        'responses left out of the reconciliation' as consequence

    from responses
    group by responses.usage_date, responses.resource_name, responses.usage_violations

),

quarantined as (

    select
        'quarantined_records' as check_name,
        cast(quarantine.quarantined_at as date) as check_date,
        cast(null as varchar) as resource_name,
        quarantine.dataset || ': ' || quarantine.quarantine_reason as subject,
        count(*) as affected_records,
        'records not landed (marts.fct_quarantined_records)' as consequence

    from quarantine
    group by
        cast(quarantine.quarantined_at as date),
        quarantine.dataset || ': ' || quarantine.quarantine_reason

),

duplicated_rows as (

    select
        bill_rows.charge_date,
        bill_rows.normalised_resource_name,
        bill_rows.sku_meter,
        count(*) as copies

    from bill_rows
    group by
        bill_rows.run_key,
        bill_rows.charge_date,
        bill_rows.normalised_resource_name,
        bill_rows.sku_meter,
        bill_rows.x_sku_meter_id,
        bill_rows.charge_category,
        bill_rows.charge_class,
        bill_rows.billing_currency,
        bill_rows.pricing_quantity,
        bill_rows.billed_cost,
        bill_rows.effective_cost,
        bill_rows.list_cost
    having count(*) > 1

),

duplicate_bill_rows as (

    select
        'duplicate_bill_rows' as check_name,
        duplicated_rows.charge_date as check_date,
        duplicated_rows.normalised_resource_name as resource_name,
        coalesce(duplicated_rows.sku_meter, '') as subject,
        sum(duplicated_rows.copies) as affected_records,
        'identical bill rows, all counted as billed' as consequence

    from duplicated_rows
    group by
        duplicated_rows.charge_date,
        duplicated_rows.normalised_resource_name,
        coalesce(duplicated_rows.sku_meter, '')

),

unmapped_meters as (

    select
        'unmapped_meter' as check_name,
        bill_rows.charge_date as check_date,
        bill_rows.normalised_resource_name as resource_name,
        bill_rows.sku_meter as subject,
        count(*) as affected_records,
        'billed, not reconciled: `ingest validate` fails' as consequence

    from bill_rows
    where bill_rows.cost_class = 'azure_openai_unmapped'
    group by bill_rows.charge_date, bill_rows.normalised_resource_name, bill_rows.sku_meter

),

rows_missing_values as (

    select
        bill_rows.charge_date,
        bill_rows.normalised_resource_name,
        concat_ws(
            ', ',
            case when bill_rows.charge_date is null then 'no ChargePeriodStart' end,
            case when bill_rows.billing_currency is null then 'no BillingCurrency' end,
            case
                when bill_rows.sku_meter is null and bill_rows.charge_category = 'Usage'
                    then 'usage without a meter'
            end
        ) as missing

    from bill_rows
    where
        bill_rows.charge_date is null
        or bill_rows.billing_currency is null
        or (bill_rows.sku_meter is null and bill_rows.charge_category = 'Usage')

),

missing_values as (

    select
        'bill_rows_missing_values' as check_name,
        rows_missing_values.charge_date as check_date,
        rows_missing_values.normalised_resource_name as resource_name,
        rows_missing_values.missing as subject,
        count(*) as affected_records,
        'landed and summed as they are; dates, currencies or meters unknown' as consequence

    from rows_missing_values
    group by
        rows_missing_values.charge_date,
        rows_missing_values.normalised_resource_name,
        rows_missing_values.missing

),

incomplete_runs as (

    select
        'incomplete_run' as check_name,
        runs.billing_month as check_date,
        cast(null as varchar) as resource_name,
        runs.run_key || ': ' || coalesce(runs.run_problems, '') as subject,
        1 as affected_records,
        'run not current: its costs are not in the marts' as consequence

    from runs

),

final as (

    select * from usage_violations
    union all
    select * from quarantined
    union all
    select * from duplicate_bill_rows
    union all
    select * from unmapped_meters
    union all
    select * from incomplete_runs
    union all
    select * from missing_values

)

select * from final
