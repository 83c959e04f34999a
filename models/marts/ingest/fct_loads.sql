{#
    The mart users and BI tools read: intermediate.int_loads, as it is (the logic lives there,
    so intermediate models never read a mart).
#}
select * from {{ ref('int_loads') }}  -- noqa: AM04
