{#
    Every meter tokenrecon knows, one row per lower-cased meter name: the catalogue seed
    (meter_source catalogue), plus the meters the landed bills use that the catalogue does not
    know yet, classified by the same parser at ingest (parsed) or not classifiable
    (unclassified, with the parser's reason). A meter is in the reconciliation's scope when
    Realtime logs can explain it: a realtime or transcription/speech meter that bills a usage
    field.
#}
with

catalogue as (

    select
        meter_key,
        meter_name,
        product_name,
        family,
        model_version,
        modality,
        direction,
        is_cached,
        deployment_type,
        service_tier,
        workload,
        pricing_unit,
        block_size,
        usage_field,
        scope,
        parse_note,
        unit_of_measure,
        unit_price_usd,
        unit_price_min_usd,
        unit_price_max_usd,
        effective_start_date

    from {{ ref('azure_openai_meters') }}

),

bill_meters as (

    select
        meter_key,
        meter_name,
        meter_subcategory,
        unit_of_measure,
        parse_error,
        family,
        model_version,
        modality,
        direction,
        is_cached,
        deployment_type,
        service_tier,
        workload,
        pricing_unit,
        block_size,
        usage_field,
        scope,
        parse_note

    from {{ ref('stg_focus__bill_meters') }}
    -- each run classifies the meters its bill uses: take each meter once
    qualify row_number() over (partition by meter_key order by parse_error is null desc, run_key) = 1

),

uncatalogued as (

    select bill_meters.*
    from bill_meters
    where bill_meters.meter_key not in (select catalogue.meter_key from catalogue)

),

unioned as (

    select
        catalogue.meter_key,
        catalogue.meter_name,
        'catalogue' as meter_source,
        catalogue.parse_note,
        catalogue.product_name,
        catalogue.family,
        catalogue.model_version,
        catalogue.modality,
        catalogue.direction,
        catalogue.is_cached,
        catalogue.deployment_type,
        catalogue.service_tier,
        catalogue.workload,
        catalogue.pricing_unit,
        catalogue.block_size,
        catalogue.usage_field,
        catalogue.scope,
        catalogue.unit_of_measure,
        catalogue.unit_price_usd,
        catalogue.unit_price_min_usd,
        catalogue.unit_price_max_usd,
        catalogue.effective_start_date

    from catalogue

    union all

    select
        uncatalogued.meter_key,
        uncatalogued.meter_name,
        case when uncatalogued.parse_error is null then 'parsed' else 'unclassified' end as meter_source,
        coalesce(uncatalogued.parse_error, uncatalogued.parse_note) as parse_note,
        uncatalogued.meter_subcategory as product_name,
        uncatalogued.family,
        uncatalogued.model_version,
        uncatalogued.modality,
        uncatalogued.direction,
        uncatalogued.is_cached,
        uncatalogued.deployment_type,
        uncatalogued.service_tier,
        uncatalogued.workload,
        uncatalogued.pricing_unit,
        uncatalogued.block_size,
        uncatalogued.usage_field,
        uncatalogued.scope,
        uncatalogued.unit_of_measure,
        cast(null as decimal(38, 18)) as unit_price_usd,
        cast(null as decimal(38, 18)) as unit_price_min_usd,
        cast(null as decimal(38, 18)) as unit_price_max_usd,
        cast(null as date) as effective_start_date

    from uncatalogued

),

final as (

    select
        unioned.*,
        unioned.scope in ('realtime', 'transcription_speech')
        and unioned.usage_field is not null as is_reconciled

    from unioned

)

select * from final
