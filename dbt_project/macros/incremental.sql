{#-
    Incremental builds (docs/operations.md, "Marts build plan"). A build starts from a copy of the
    published marts only when the build plan (kinvolved_assets/marts/plan.py) finds nothing but deltas
    delivered after the published build's latest delivery, in the same school year. The plan's
    "after" key (a delivery_key: yyyymmdd * 10^9 + seq of that latest delivery) reaches the SQL in the
    environment variable KINVOLVED_INCREMENTAL_AFTER_KEY, read at run time only, so it never changes
    what dbt parses (the kept parse state serves every night).

    Why an upsert equals the full state then: every new row belongs to a delivery after every
    published one, so it wins the delivery order (macros/current_state.sql) over every published
    version of its key, and no new bulk replaces any scope. The state of a key the new deliveries
    touch is their latest version of it (gone when that version is tobedeleted); every other key keeps
    its published row.
-#}

{%- macro incremental_after_key() -%}
    {%- if not execute -%}
        {{ return(0) }}
    {%- endif -%}
    {{ return(env_var('KINVOLVED_INCREMENTAL_AFTER_KEY', '0') | int) }}
{%- endmacro %}


{#- True when this model extends its published table (the build file is a copy of the published marts
    and the plan gave an after key); false on every full build, --full-refresh included. -#}
{%- macro upsert_build() -%}
    {{ return(is_incremental() and incremental_after_key() > 0) }}
{%- endmacro %}


{#- pre_hook of every incremental model: a build that finds the table but no after key (dbt run by hand
    twice on one file, say) empties it first, so its full select never lands on top of old rows. -#}
{%- macro incremental_reset() -%}
    {%- if is_incremental() and not upsert_build() -%}
    delete from {{ this }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}


{#- The rows of `relation` delivered after the published build (and before `before`, a delivery key,
    when given). The date bound lets DuckDB skip the older Parquet files by their statistics. -#}
{% macro new_deliveries(relation, before=none) %}
    {%- set after = incremental_after_key() -%}
    {%- set day = (after // 1000000000) | string -%}
    select *
    from {{ relation }}
    where _delivery_date >= date '{{ day[0:4] }}-{{ day[4:6] }}-{{ day[6:8] }}'
      and {{ delivery_key() }} > {{ after }}
      {% if before is not none %}and {{ delivery_key() }} < {{ before }}{% endif %}
{% endmacro %}


{#- The latest version of each key among `rows_sql`, active only (the state the new deliveries give
    the keys they touch). `key` is a SQL expression list. -#}
{% macro latest_active_versions(rows_sql, key) %}
    select * exclude (_version_rank, status)
    from (
        select *, row_number() over (partition by {{ key }} order by {{ delivery_order() }}) as _version_rank
        from ({{ rows_sql }}) as touched
    ) as ranked
    where _version_rank = 1
      and coalesce(status, 'active') = 'active'
{% endmacro %}


{#- Roster by year, the new rows of each delivered school year (those delivered before its cutoff). -#}
{% macro roster_upsert_by_year(relation, key) %}
    {%- for year in delivered_school_years() %}
    select {{ year }} as school_year, year_rows.*
    from ({{ latest_active_versions(new_deliveries(relation, school_year_cutoff_key(year)), key) }}) as year_rows
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{% endmacro %}


{#- pre_hook of a roster by-year model: remove the published rows of the keys the new deliveries touch
    (in each year whose cutoff they precede). Nothing on a full build. -#}
{% macro roster_upsert_delete_by_year(relation, key) %}
    {%- if upsert_build() -%}
    delete from {{ this }} as published
    using (
        {%- for year in delivered_school_years() %}
        select distinct {{ year }} as school_year, {{ key }} as touched_key
        from ({{ new_deliveries(relation, school_year_cutoff_key(year)) }}) as year_rows
        {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    ) as touched
    where published.school_year = touched.school_year
      and published.{{ key }} = touched.touched_key
    {%- else -%}
    {{ incremental_reset() }}
    {%- endif -%}
{% endmacro %}


{#- Attendance by year: the new rows dated inside each delivered school year (a row of a past year is a
    correction of it, macros/school_years.sql), latest version per natural key, active only. -#}
{% macro attendance_upsert_by_year(events_relation) %}
    {%- for year in delivered_school_years() %}
    select {{ year }} as school_year, year_rows.* exclude (comment)
    from ({{ latest_active_versions(attendance_rows_of_year(events_relation, year),
                                    "user_sourced_id, school_sourced_id, coalesce(class_sourced_id, ''), attendance_date") }}) as year_rows
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{% endmacro %}


{% macro attendance_rows_of_year(events_relation, year) %}
    select *
    from ({{ new_deliveries(events_relation) }}) as new_rows
    where attendance_date >= {{ school_year_first_day(year) }}
      and attendance_date < {{ school_year_cutoff(year) }}
{% endmacro %}


{% macro attendance_upsert_delete_by_year(events_relation) %}
    {%- if upsert_build() -%}
    delete from {{ this }} as published
    using (
        {%- for year in delivered_school_years() %}
        select distinct {{ year }} as school_year, user_sourced_id, school_sourced_id,
               coalesce(class_sourced_id, '') as class_key, attendance_date
        from ({{ attendance_rows_of_year(events_relation, year) }}) as year_rows
        {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    ) as touched
    where published.school_year = touched.school_year
      and published.user_sourced_id = touched.user_sourced_id
      and published.school_sourced_id = touched.school_sourced_id
      and coalesce(published.class_sourced_id, '') = touched.class_key
      and published.attendance_date = touched.attendance_date
    {%- else -%}
    {{ incremental_reset() }}
    {%- endif -%}
{% endmacro %}


{#- A roster by-year model's select: the new rows on an incremental build, every year's state otherwise. -#}
{% macro roster_by_year(relation, key) %}
    {%- if upsert_build() -%}
    {{ roster_upsert_by_year(relation, key) }}
    {%- else -%}
    {{ roster_state_by_year(relation, key) }}
    {%- endif -%}
{% endmacro %}


{#- A roster model across years (users): the new rows' latest active versions on an incremental build,
    the whole current state otherwise. -#}
{% macro roster_current(relation, key) %}
    {%- if upsert_build() -%}
    {{ latest_active_versions(new_deliveries(relation), key) }}
    {%- else -%}
    {{ roster_current_state(relation, key) }}
    {%- endif -%}
{% endmacro %}


{#- pre_hook of a roster model across years: remove the published rows of the keys the new deliveries
    touch. Nothing on a full build. -#}
{% macro roster_upsert_delete(relation, key) %}
    {%- if upsert_build() -%}
    delete from {{ this }}
    where {{ key }} in (select {{ key }} from ({{ new_deliveries(relation) }}) as new_rows)
    {%- else -%}
    {{ incremental_reset() }}
    {%- endif -%}
{% endmacro %}
