{#
    The mart users and BI tools read: intermediate.int_quarantined_records, as it is (the logic lives there,
    so intermediate models never read a mart).
#}
select * from {{ ref('int_quarantined_records') }}  -- noqa: AM04
