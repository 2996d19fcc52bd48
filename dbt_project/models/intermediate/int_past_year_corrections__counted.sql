{{ config(materialized='incremental', pre_hook="{{ incremental_reset() }}") }}
-- Attendance rows dated in a school year but delivered after it ended (from 1 July on): the corrections
-- applied to that closed year (docs/attendance-rules.md, "Corrections to a past year"), so an operator
-- sees which deliveries changed last year's figures. One row per school year and delivery; counts only.
-- Incremental: a build after deltas counts the new deliveries' rows (one row per delivery: none of them
-- was counted before).
-- depends_on: {{ ref('int_bulk_deliveries__audited') }}
{%- set attendance = '(' ~ new_deliveries(ref('stg_oneroster__attendance')) ~ ')' if upsert_build()
                    else ref('stg_oneroster__attendance') %}
{%- for year in delivered_school_years() %}
select
    {{ year }} as school_year,
    _delivery_date as delivery_date,
    _delivery_seq as delivery_seq,
    _mode as mode,
    count(*) as corrected_rows,
    count(*) filter (where coalesce(status, 'active') <> 'active') as deleted_rows,
    count(distinct user_sourced_id) as students
from {{ attendance }} as attendance
where {{ delivery_key() }} >= {{ school_year_cutoff_key(year) }}
  and attendance_date >= {{ school_year_first_day(year) }}
  and attendance_date < {{ school_year_cutoff(year) }}
group by all
{% if not loop.last %}union all{% endif %}
{%- endfor %}
