{{ config(materialized='table') }}

with

quarantined as (

    select * from {{ ref('stg_ingest__quarantined_records') }}

),

final as (

    select
        quarantined.dataset,
        quarantined.source_uri,
        quarantined.record_number,
        quarantined.quarantine_reason,
        quarantined.raw_bytes,
        quarantined.raw_excerpt,
        quarantined.source_file_id,
        quarantined.quarantined_at

    from quarantined

)

select * from final
