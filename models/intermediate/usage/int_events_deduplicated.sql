{#
    One row per distinct event. The same log landed twice (a copy under another name, a rotated
    log overlapping its successor, two loggers on one connection) repeats events; an event is
    the same when its direction, session and event key (the server's event_id, else a
    fingerprint of the record) agree. The earliest received copy is kept.
#}
with

events as (

    select * from {{ ref('stg_realtime__events') }}

),

ranked as (

    select
        events.*,
        row_number() over (
            partition by events.direction, coalesce(events.session_id, ''), events.event_key
            order by events.received_at, events.source_uri, events.record_number
        ) as copy_number

    from events

),

final as (

    select * exclude (copy_number)
    from ranked
    where copy_number = 1

)

select * from final  -- noqa: AM04
