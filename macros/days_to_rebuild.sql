{#
    Incremental by day, for the event-level models. Landed event files are immutable (a
    content id names each), so what changed since a model was last built is known exactly:
    the files it has not seen (int_events_sessionised appends them whole), and the days their
    rows fall on. A model partitioned by day rebuilds those days and `lookback_days` either side
    (sessions that straddle midnight, copies of an event received on either side of it),
    reading `lookback_days` more of context; days outside are kept as they are.

    Lists are computed when the model runs (run_query) and written into its SQL as literals,
    so a reader of hive-partitioned Parquet prunes files before reading them. Values from the
    data reach SQL only through value_in, which escapes them.
#}
{% macro days_to_rebuild(upstream_relation, day_column, lookback_days=var('incremental_lookback_days')) %}
    {#- {'rebuild': days this model replaces, 'context': days it reads to rebuild them}: the
        days of upstream rows built after this model's last build, widened by the lookback -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select distinct cast({{ day_column }} as {{ dbt.type_string() }})
        from {{ upstream_relation }}
        where _built_at > (
            select coalesce(max(_built_at), cast('1970-01-01' as {{ dbt.type_timestamp() }}))
            from {{ this }}
        )
    {%- endset -%}
    {%- set changed = run_query(query).columns[0].values() -%}
    {%- set rebuild = [] -%}
    {%- set context = [] -%}
    {%- for value in changed -%}
        {%- set day = modules.datetime.date.fromisoformat(value | string) -%}
        {%- for offset in range(-2 * lookback_days, 2 * lookback_days + 1) -%}
            {%- set other = (day + modules.datetime.timedelta(days=offset)).isoformat() -%}
            {%- if offset | abs <= lookback_days and other not in rebuild %}{% do rebuild.append(other) %}{% endif -%}
            {%- if other not in context %}{% do context.append(other) %}{% endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return({'rebuild': rebuild | sort, 'context': context | sort}) }}
{% endmacro %}
