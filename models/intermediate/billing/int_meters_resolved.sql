{#
    Every meter tokenrecon knows: the catalogue seed, plus meters the bills use that the
    catalogue does not know yet, read by the same parser at ingest (meter_source
    parsed_from_bill) or not readable at all (unparsed). One row per lower-cased meter name.
#}
with

catalogue as (

    select
        meter_key,
        meter_name,
        family,
        model_version,
        modality,
        direction,
        is_cached,
        deployment_type,
        unit,
        block_size,
        usage_field,
        unit_price_usd,
        effective_start_date

    from {{ ref('azure_openai_meters') }}

),

bill_meters as (

    select
        meter_key,
        meter_name,
        parse_error,
        family,
        model_version,
        modality,
        direction,
        is_cached,
        deployment_type,
        unit,
        block_size,
        usage_field

    from {{ ref('stg_focus__bill_meters') }}

),

uncatalogued as (

    select bill_meters.*
    from bill_meters
    where bill_meters.meter_key not in (select catalogue.meter_key from catalogue)

),

final as (

    select
        catalogue.meter_key,
        catalogue.meter_name,
        'catalogue' as meter_source,
        cast(null as varchar) as parse_error,
        catalogue.family,
        catalogue.model_version,
        catalogue.modality,
        catalogue.direction,
        catalogue.is_cached,
        catalogue.deployment_type,
        catalogue.unit,
        catalogue.block_size,
        catalogue.usage_field,
        catalogue.unit_price_usd,
        catalogue.effective_start_date

    from catalogue

    union all

    select
        uncatalogued.meter_key,
        uncatalogued.meter_name,
        case when uncatalogued.parse_error is null then 'parsed_from_bill' else 'unparsed' end as meter_source,
        uncatalogued.parse_error,
        uncatalogued.family,
        uncatalogued.model_version,
        uncatalogued.modality,
        uncatalogued.direction,
        uncatalogued.is_cached,
        uncatalogued.deployment_type,
        uncatalogued.unit,
        uncatalogued.block_size,
        uncatalogued.usage_field,
        cast(null as decimal(38, 18)) as unit_price_usd,
        cast(null as date) as effective_start_date

    from uncatalogued

)

select * from final
