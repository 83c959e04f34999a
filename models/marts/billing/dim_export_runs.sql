with

runs as (

    select * from {{ ref('int_export_runs_current') }}

),

final as (

    select
        runs.run_key,
        runs.export_scope,
        runs.billing_scope,
        runs.export_name,
        runs.dataset_type,
        runs.dataset_version,
        runs.time_frame,
        runs.billing_month,
        runs.submitted_at,
        runs.run_start_at,
        runs.run_end_at,
        runs.is_loose_file,
        runs.source_uri,
        runs.manifest_blob_count,
        runs.manifest_row_count,
        runs.files_read,
        runs.rows_read,
        runs.rows_landed,
        runs.rows_quarantined,
        runs.run_status,
        runs.run_problems,
        runs.is_current,
        runs.not_current_reason,
        runs.landed_at

    from runs

)

select * from final
