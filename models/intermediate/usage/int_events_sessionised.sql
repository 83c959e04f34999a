{#
    Every event with its session. Envelopes and session events name it; a bare event of a log
    belongs to the last session named before it in the same file (a log of one connection).
#}
with

events as (

    select * from {{ ref('stg_realtime__events') }}

),

sessionised as (

    select
        events.* replace (
            coalesce(
                events.session_id,
                last_value(events.session_id ignore nulls) over file_order
            ) as session_id,
            case
                when events.session_id is not null then events.session_id_source
                when last_value(events.session_id ignore nulls) over file_order is not null
                    then 'file_context'
            end as session_id_source
        )

    from events
    window file_order as (
        partition by events.source_file_id
        order by events.record_number
        rows between unbounded preceding and current row
    )

)

select * from sessionised  -- noqa: AM04
