{#
    1 / block size as an exact DECIMAL(38,18), for pricing tokens at a per-block price without a
    division (DuckDB divides decimals in floating point). Azure's blocks are powers of ten (1, 100,
    1K, 10K, 1M); any other size yields NULL, and so no price rather than an inexact one.
#}
{% macro per_block(block_size) -%}
    case {{ block_size }}
        when 1 then cast(1 as decimal(38, 18))
        when 100 then cast('0.01' as decimal(38, 18))
        when 1000 then cast('0.001' as decimal(38, 18))
        when 10000 then cast('0.0001' as decimal(38, 18))
        when 1000000 then cast('0.000001' as decimal(38, 18))
    end
{%- endmacro %}
