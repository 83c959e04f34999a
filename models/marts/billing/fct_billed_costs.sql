{#
    The mart users and BI tools read: intermediate.int_billed_costs, as it is (the logic lives there,
    so intermediate models never read a mart).
#}
select * from {{ ref('int_billed_costs') }}  -- noqa: AM04
