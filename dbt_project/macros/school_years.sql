{#-
    School years in the marts (docs/attendance-rules.md, "School years").

    delivered_school_years() -> the ending years of every school year holding a delivery date (any
    entity, raw _files), up to the configured current year var('school_year'), plus that year; sorted.
    A delivery belongs to the school year (1 July - 30 June) holding its date.

    by_school_year(state_sql_of_before) is spelled out in each int_*__merged_by_year model: the state
    of year Y is built from the deliveries dated before 1 July of Y (school_year_cutoff(Y)), so nothing
    delivered in a later school year changes it.
-#}

{% macro delivered_school_years() %}
    {%- set current = var('school_year') | int -%}
    {%- if not execute -%}
        {{ return([current]) }}
    {%- endif -%}
    {%- set pattern = raw_glob('_files') -%}
    {%- set found = run_query("select count(*) from glob(" ~ sql_string(pattern) ~ ")").rows[0][0] -%}
    {%- set years = [current] -%}
    {%- if found > 0 -%}
        {%- set rows = run_query(
            "select distinct cast(case when month(delivery_date) >= 7 then year(delivery_date) + 1 "
            ~ "else year(delivery_date) end as integer) from read_parquet(" ~ sql_string(pattern)
            ~ ", union_by_name = true, hive_partitioning = false) where delivery_date is not null") -%}
        {%- for row in rows.rows -%}
            {%- if row[0] is not none and row[0] | int < current and row[0] | int not in years -%}
                {%- do years.append(row[0] | int) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(years | sort) }}
{% endmacro %}


{#- The first day after school year `year` (exclusive bound of its deliveries and dates). -#}
{% macro school_year_cutoff(year) -%}
    date '{{ year | int }}-07-01'
{%- endmacro %}


{#- The same bound as a delivery key (macros/current_state.sql delivery_key: date and arrival seq):
    every delivery dated before 1 July of `year`, whatever its seq. -#}
{% macro school_year_cutoff_key(year) -%}
    {{ (year | int) * 10000 + 701 }}000000000
{%- endmacro %}


{#- The first day of school year `year` (1 July of the year before). -#}
{% macro school_year_first_day(year) -%}
    date '{{ (year | int) - 1 }}-07-01'
{%- endmacro %}


{#- Roster current state of each delivered school year: school_year + the entity's columns. -#}
{% macro roster_state_by_year(relation, key) %}
    {%- for year in delivered_school_years() %}
    select {{ year }} as school_year, year_state.*
    from ({{ roster_current_state(relation, key, school_year_cutoff_key(year)) }}) as year_state
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{% endmacro %}


{#- Chronic absence (docs/attendance-rules.md, Measures): enough days enrolled and absent at least
    chronic_threshold of them; a small tolerance so that e.g. 3 of 30 days meets a 0.10 threshold. -#}
{% macro is_chronic(days_enrolled, days_absent) -%}
    ({{ days_enrolled }} >= {{ var('min_enrolled_days') | int }}
     and {{ days_absent }} >= {{ var('chronic_threshold') | float }} * {{ days_enrolled }} - 1e-9)
{%- endmacro %}


{#-
    The attendance events of school year `year` (docs/attendance-rules.md, "Corrections to a past year"):
    the events dated inside the year in the state of the deliveries dated before 1 July of the year
    (bulks replace, deltas upsert, tobedeleted deletes), then every later delivery's rows dated inside
    the year applied as corrections, in delivery order: a row upserts its natural key (student, school,
    class-or-blank, date), tobedeleted removes it. A later delivery's bulk replaces nothing of the year
    (its scope is its own year): what it does not re-send of a past year stays.
-#}
{% macro attendance_state_of_year(events_relation, files_relation, year) %}
    with year_end_state as (
        select *, cast('active' as varchar) as status
        from ({{ attendance_current_state(events_relation, files_relation, school_year_cutoff_key(year)) }}) as s
        where s.attendance_date >= {{ school_year_first_day(year) }}
          and s.attendance_date < {{ school_year_cutoff(year) }}
    ),

    later_corrections as (
        select *
        from {{ events_relation }}
        where {{ delivery_key() }} >= {{ school_year_cutoff_key(year) }}
          and attendance_date >= {{ school_year_first_day(year) }}
          and attendance_date < {{ school_year_cutoff(year) }}
    ),

    ranked as (
        select
            *,
            row_number() over (
                partition by user_sourced_id, school_sourced_id, coalesce(class_sourced_id, ''), attendance_date
                order by {{ delivery_order() }}
            ) as _version_rank
        from (
            select * from year_end_state
            union all by name
            select * from later_corrections
        ) as versions
    )

    select * exclude (_version_rank, status)
    from ranked
    where _version_rank = 1
      and coalesce(status, 'active') = 'active'
{% endmacro %}
