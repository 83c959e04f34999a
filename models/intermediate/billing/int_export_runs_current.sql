{#
    Which export run counts, per billing scope and billing month. Runs are cumulative (each
    month-to-date run re-delivers the month so far; early in a month the previous month is
    exported again), so appending them multiplies cost: exactly one run is current.

    The billing scope is the scope the export reads (its exportConfig.resourceId without the
    `/providers/Microsoft.CostManagement/exports/<name>` of the export itself), so two exports
    of one scope - a FOCUS export and an actual cost export, say - compete for the same month
    and are never both counted. Among the runs that are not incomplete, the winner has rows
    (an empty run never replaces a run with rows), covers the latest end date (a shorter custom
    run never replaces a fuller one), then is of the preferred dataset - FOCUS (it carries
    billed and effective cost, block sizes and consumed quantities in one row), then actual
    cost (what the invoice holds), then amortized cost (reservation purchases spread over
    usage: it does not add up to the invoice) - then was submitted last. Loose files (no
    manifest) of one billing account are compared the same way (ingest gives them that scope;
    of two that cover as long, the one with more rows). Incomplete runs are never current.
#}
with

runs as (

    select
        *,
        regexp_replace(
            lower(export_scope), '/providers/microsoft\.costmanagement/exports/[^/]+/?$', ''
        ) as billing_scope,
        case dataset_type
            when 'FocusCost' then 1
            when 'ActualCost' then 2
            when 'AmortizedCost' then 3
            else 4
        end as dataset_preference

    from {{ ref('stg_focus__export_runs') }}

),

ranked as (

    select
        runs.run_key,
        runs.billing_scope,
        runs.billing_month,
        runs.rows_landed,
        runs.run_end_at,
        runs.is_loose_file,
        runs.dataset_preference,
        runs.dataset_type,
        row_number() over (
            partition by runs.billing_scope, runs.billing_month
            order by
                runs.rows_landed > 0 desc,
                runs.run_end_at desc nulls last,
                runs.dataset_preference asc,
                -- loose files have no submission time: of two covering as long, the fuller
                case when runs.is_loose_file then runs.rows_landed end desc nulls last,
                runs.submitted_at desc nulls last,
                runs.run_key desc
        ) as rank_in_scope

    from runs
    where runs.run_status != 'incomplete'

),

winners as (

    select
        ranked.billing_scope,
        ranked.billing_month,
        ranked.run_key as winner_key,
        ranked.rows_landed as winner_rows,
        ranked.run_end_at as winner_end_at,
        ranked.dataset_preference as winner_preference,
        ranked.dataset_type as winner_dataset_type

    from ranked
    where ranked.rank_in_scope = 1

),

final as (

    select
        runs.*,
        coalesce(ranked.rank_in_scope = 1, false) as is_current,
        case
            when runs.run_status = 'incomplete'
                then 'incomplete: ' || coalesce(runs.run_problems, '')
            when ranked.rank_in_scope = 1 then null
            when runs.rows_landed = 0 and winners.winner_rows > 0
                then 'empty run; ' || winners.winner_key || ' has rows'
            when runs.run_end_at is null and winners.winner_end_at is not null
                or runs.run_end_at < winners.winner_end_at
                then 'covers a shorter period than ' || winners.winner_key
            when runs.dataset_preference > winners.winner_preference
                then winners.winner_key || ' (' || winners.winner_dataset_type
                    || ') covers the same period and is preferred to '
                    || coalesce(runs.dataset_type, 'an unknown dataset')
            when runs.is_loose_file and runs.rows_landed < winners.winner_rows
                then 'holds fewer rows than ' || winners.winner_key || ' for the same period'
            else 'superseded by ' || winners.winner_key || ', submitted later'
        end as not_current_reason

    from runs
    left join ranked
        on runs.run_key = ranked.run_key
    left join winners
        on
            runs.billing_scope = winners.billing_scope
            and runs.billing_month is not distinct from winners.billing_month

)

select * from final  -- noqa: AM04
