{#
    The mart users and BI tools read: intermediate.int_meter_reconciliation, as it is (the logic lives there,
    so intermediate models never read a mart).
#}
select * from {{ ref('int_meter_reconciliation') }}  -- noqa: AM04
