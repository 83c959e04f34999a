{#
    The user's data problems in one place, for the report and BI: see
    int_data_quality_findings. Nothing here fails a build.
#}
with

findings as (

    select * from {{ ref('int_data_quality_findings') }}

),

final as (

    select
        findings.check_name,
        findings.check_date,
        findings.resource_name,
        findings.subject,
        cast(findings.affected_records as bigint) as affected_records,
        findings.consequence

    from findings

)

select * from final
