with

source as (

    select * from {{ source('focus', 'run_totals') }}

),

renamed as (

    select
        source.run_key,
        source.billing_currency,
        source.rows_landed,
        source.billed_cost_landed

    from source

)

select * from renamed
