-- Attendance events of each delivered school year: the events dated inside the year (1 July - 30 June)
-- in the current state built from the deliveries dated before 1 July of that year
-- (macros/school_years.sql): nothing delivered in a later school year changes an earlier one.
-- depends_on: {{ ref('int_oneroster__mass_deletion_audit') }}
-- Personal columns stay in raw/ only: this table is stored in the marts file.
{%- for year in delivered_school_years() %}
select {{ year }} as school_year, year_state.* exclude (comment)
from (
{{ attendance_current_state(ref('stg_oneroster__attendance'), ref('stg_oneroster__files'), school_year_cutoff_key(year)) }}
) as year_state
where year_state.attendance_date >= {{ school_year_first_day(year) }}
  and year_state.attendance_date < {{ school_year_cutoff(year) }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
