with

source as (

    select * from {{ source('focus', 'meters') }}

),

renamed as (

    select
        source.run_key,
        source.meter_key,
        source.meter_name,
        source.meter_category,
        source.meter_subcategory,
        source.unit_of_measure,
        source.parse_error,
        source.family,
        source.model_version,
        source.modality,
        source.direction,
        source.is_cached,
        source.deployment_type,
        source.service_tier,
        source.workload,
        source.pricing_unit,
        source.block_size,
        source.usage_field,
        source.scope,
        source.note as parse_note

    from source

)

select * from renamed
