with

source as (

    select * from {{ source('ingest', 'load_log') }}

),

renamed as (

    select
        source.load_key as load_id,
        source.dataset,
        source.source_uri,
        source.source_size as source_bytes,
        source.source_version,
        source.options_json,
        source.file_id as source_file_id,
        source.status as load_status,
        source.records_read,
        source.rows_landed,
        source.rows_quarantined,
        source.rows_duplicate,
        source.blank_lines,
        source.message as load_message,
        timezone('UTC', source.started_at) as started_at,
        timezone('UTC', source.finished_at) as finished_at,
        source.tokenrecon_version

    from source

)

select * from renamed
