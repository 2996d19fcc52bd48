-- Period-level (class) attendance events of licensed schools with their resolved code.
-- Daily attendance comes from daily (blank class) events, and from these at schools with a period
-- rule (int_daily_attendance__derived_from_periods).
with events as (
    select *
    from {{ ref('int_attendance_events__coded') }}
    where class_sourced_id is not null
),

licensed_schools as (
    select school_year, school_sourced_id from {{ ref('int_schools__flagged_by_license') }} where is_licensed
)

select
    events.student_sourced_id,
    events.class_sourced_id,
    events.school_year,
    events.school_sourced_id,
    events.attendance_date as "date",
    events.period,
    events.absence_code,
    events.absence_code_sourced_id,
    events.code_category,
    events.is_code_resolved,
    events.absent_fraction > 0 as is_absent,
    events.is_excused,
    events.is_tardy,
    events.minutes_absent,
    events.attendance_sourced_id
from events
inner join licensed_schools
    on events.school_year = licensed_schools.school_year
   and events.school_sourced_id = licensed_schools.school_sourced_id
