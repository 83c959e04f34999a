{#
    The mart users and BI tools read: intermediate.int_transcription_usage, as it is (the logic lives there,
    so intermediate models never read a mart).
#}
select * from {{ ref('int_transcription_usage') }}  -- noqa: AM04
