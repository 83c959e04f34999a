{#
    The mart users and BI tools read: intermediate.int_export_run_totals, as it is (the logic lives there,
    so intermediate models never read a mart).
#}
select * from {{ ref('int_export_run_totals') }}  -- noqa: AM04
