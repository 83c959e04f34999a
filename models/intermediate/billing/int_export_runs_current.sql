{#
    Which export run counts, per export scope and billing month. Runs are cumulative (each
    month-to-date run re-delivers the month so far; early in a month the previous month is
    exported again), so appending them multiplies cost: exactly one run is current. Among the
    runs that are not incomplete, the winner covers the latest end date (a shorter custom run
    never replaces a fuller one), then was submitted last; an empty run never replaces a run
    with rows. Loose files (no manifest) of one billing account and its subscriptions are
    compared the same way (ingest gives them that scope; of two that cover as long, the one
    with more rows). Incomplete runs are never current.
#}
with

runs as (

    select * from {{ ref('stg_focus__export_runs') }}

),

ranked as (

    select
        runs.run_key,
        runs.export_scope,
        runs.billing_month,
        runs.rows_landed,
        runs.run_end_at,
        runs.is_loose_file,
        row_number() over (
            partition by runs.export_scope, runs.billing_month
            order by
                runs.rows_landed > 0 desc,
                runs.run_end_at desc nulls last,
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
        ranked.export_scope,
        ranked.billing_month,
        ranked.run_key as winner_key,
        ranked.rows_landed as winner_rows,
        ranked.run_end_at as winner_end_at

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
            when runs.is_loose_file and runs.rows_landed < winners.winner_rows
                then 'holds fewer rows than ' || winners.winner_key || ' for the same period'
            else 'superseded by ' || winners.winner_key || ', submitted later'
        end as not_current_reason

    from runs
    left join ranked
        on runs.run_key = ranked.run_key
    left join winners
        on
            runs.export_scope = winners.export_scope
            and runs.billing_month is not distinct from winners.billing_month

)

select * from final  -- noqa: AM04
