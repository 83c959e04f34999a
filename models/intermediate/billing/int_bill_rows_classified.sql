{#
    Azure OpenAI / Foundry Models usage rows of the current export runs (by meter category and
    subcategory: vars openai_meter_categories / openai_meter_subcategories), one row per bill row,
    with tokens derived and the quantity checks of DOMAIN section 3:
    - PricingQuantity is in blocks (tokens / block size) when ListUnitPrice x PricingQuantity =
      ListCost holds; tokens = PricingQuantity x block size;
    - whether ConsumedQuantity is in tokens or in blocks is unconfirmed, so each row says which
      one it matches (or neither).
#}
with

costs as (

    select
        run_key,
        source_row,
        charge_period_start_at,
        charge_category,
        charge_class,
        billing_currency,
        resource_id,
        resource_name,
        region_id,
        sku_meter,
        x_sku_meter_id,
        x_sku_meter_category,
        x_sku_meter_subcategory,
        pricing_unit,
        x_pricing_unit_description,
        x_pricing_block_size,
        pricing_quantity,
        consumed_quantity,
        consumed_unit,
        list_unit_price,
        billed_cost,
        effective_cost,
        list_cost,
        contracted_cost

    from {{ ref('stg_focus__costs') }}

),

openai_usage as (

    select costs.*
    from costs
    where
        lower(costs.x_sku_meter_category) in (
            {%- for category in var('openai_meter_categories') %}
                '{{ category | lower }}'{{ "," if not loop.last }}
            {%- endfor %}
        )
        and lower(costs.x_sku_meter_subcategory) in (
            {%- for subcategory in var('openai_meter_subcategories') %}
                '{{ subcategory | lower }}'{{ "," if not loop.last }}
            {%- endfor %}
        )
        and costs.charge_category = 'Usage'

),

sized as (

    select
        openai_usage.*,
        cast(openai_usage.charge_period_start_at as date) as charge_date,
        lower(coalesce(
            openai_usage.resource_name, regexp_extract(openai_usage.resource_id, '[^/]+$')
        )) as normalised_resource_name,
        cast(coalesce(
            openai_usage.x_pricing_block_size,
            case upper(trim(openai_usage.x_pricing_unit_description))
                when '1K' then 1000
                when '1M' then 1000000
            end,
            1
        ) as bigint) as block_size,
        lower(openai_usage.sku_meter) like '%tokens'
        or lower(openai_usage.pricing_unit) like '%tokens%' as is_token_meter,
        lower(openai_usage.sku_meter) like '% unit'
        or lower(openai_usage.pricing_unit) like '%hour%'
        or lower(openai_usage.x_pricing_unit_description) like '%hour%' as is_hourly_meter

    from openai_usage

),

checked as (

    select
        sized.*,
        case when sized.is_token_meter then sized.pricing_quantity * sized.block_size end as billed_tokens,
        case when sized.is_hourly_meter then sized.pricing_quantity * sized.block_size end as billed_hours,
        case
            when sized.list_unit_price is null or sized.list_unit_price = 0 or sized.list_cost is null then null
            else abs(sized.list_unit_price * sized.pricing_quantity - sized.list_cost)
                <= {{ var('price_identity_tolerance') }}
        end as is_price_identity_ok,
        case
            when sized.consumed_quantity is null then 'missing'
            when sized.pricing_quantity = 0 and sized.consumed_quantity = 0 then 'zero'
            when sized.consumed_quantity = sized.pricing_quantity * sized.block_size then 'tokens'
            when sized.consumed_quantity = sized.pricing_quantity then 'blocks'
            else 'neither'
        end as consumed_quantity_basis

    from sized

)

select * from checked  -- noqa: AM04
