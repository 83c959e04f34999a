{{ config(materialized='table') }}

{#
    The load log as users read it: one row per input read, with the check that every record
    read either landed, was quarantined, or was a copy of content already landed.
#}
with

loads as (

    select * from {{ ref('stg_ingest__loads') }}

),

final as (

    select
        loads.load_id,
        loads.dataset,
        loads.source_uri,
        loads.source_bytes,
        loads.source_file_id,
        loads.load_status,
        loads.records_read,
        loads.rows_landed,
        loads.rows_quarantined,
        loads.rows_duplicate,
        loads.blank_lines,
        loads.records_read
        = loads.rows_landed + loads.rows_quarantined + loads.rows_duplicate as is_balanced,
        loads.load_message,
        loads.started_at,
        loads.finished_at

    from loads

)

select * from final
