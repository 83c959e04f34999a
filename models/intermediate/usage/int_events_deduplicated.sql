{#
    One row per distinct event. The same log landed twice (a copy under another name, a rotated
    log overlapping its successor, a log that grew and was read again, two loggers on one
    connection) repeats events; an event is the same when its event key agrees (the server's
    event_id, else a fingerprint of the record's bytes). The copy that knows its session wins,
    then the earliest received.
#}
with

events as (

    select * from {{ ref('int_events_sessionised') }}

),

ranked as (

    select
        events.*,
        row_number() over (
            partition by events.event_key
            order by
                events.session_id is null,
                events.received_at,
                events.source_uri,
                events.record_number
        ) as copy_number

    from events

),

final as (

    select * exclude (copy_number)
    from ranked
    where copy_number = 1

)

select * from final  -- noqa: AM04
