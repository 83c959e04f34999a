with

source as (

    select * from {{ source('ingest', 'quarantine') }}

),

renamed as (

    select
        source.dataset,
        source.file_id as source_file_id,
        source.source_uri,
        source.record_number,
        source.reason as quarantine_reason,
        source.raw_bytes,
        source.raw_excerpt,
        timezone('UTC', source.quarantined_at) as quarantined_at

    from source

)

select * from renamed
