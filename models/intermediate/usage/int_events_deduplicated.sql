{#
    One row per distinct event. The same log landed twice (a rotated log overlapping its
    successor, a log that grew and was read again, two loggers on one connection) repeats
    events; a server event is the same when its event_id agrees. An event without one (client
    events such as input_audio_buffer.append, whose ids are optional) is the same only as the
    same record of the same log (fingerprint, file and line): identical appends - silence
    sends the same bytes many times - are distinct events, while a grown log read again still
    counts each once (a byte copy of a log never lands twice: ingest skips the content). The
    copy that knows its session wins, then the earliest received.
#}
with

events as (

    select * from {{ ref('int_events_sessionised') }}

),

ranked as (

    select
        events.*,
        row_number() over (
            partition by
                case
                    when events.event_key like 'sha1:%'
                        then events.event_key || '@' || events.source_uri || ':' || events.record_number
                    else events.event_key
                end
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
