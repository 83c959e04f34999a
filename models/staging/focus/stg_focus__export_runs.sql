with

source as (

    select * from {{ source('focus', 'runs') }}

),

renamed as (

    select
        source.run_key,
        source.scope as export_scope,
        source.export_name,
        source.dataset_type,
        source.dataset_version,
        source.time_frame,
        source.run_id,
        timezone('UTC', source.submitted_at) as submitted_at,
        timezone('UTC', source.start_date) as run_start_at,
        timezone('UTC', source.end_date) as run_end_at,
        source.billing_month,
        source.source_uri,
        source.is_loose_file,
        source.manifest_blob_count,
        source.manifest_row_count,
        source.files_read,
        source.rows_read,
        source.rows_landed,
        source.rows_quarantined,
        source.status as run_status,
        source.problems as run_problems,
        timezone('UTC', source.landed_at) as landed_at

    from source

)

select * from renamed
