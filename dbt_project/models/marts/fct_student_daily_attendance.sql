-- One row per student x licensed school x instructional day while enrolled (dense: no event = present).
-- Built set-based: instructional calendar range-joined to merged enrollment spans, then the
-- daily (school-level, blank class) events left-joined on the natural key.
with calendar as (
    select school_sourced_id, calendar_date
    from {{ ref('int_calendar__instructional_days') }}
),

spans as (
    select * from {{ ref('int_enrollments__student_school_spans') }}
),

student_days as (
    select
        spans.student_sourced_id,
        spans.school_sourced_id,
        calendar.calendar_date
    from spans
    inner join calendar
        on calendar.school_sourced_id = spans.school_sourced_id
       and calendar.calendar_date >= spans.span_begin
       and calendar.calendar_date < spans.span_end
),

daily_events as (
    select *
    from {{ ref('int_attendance__events_coded') }}
    where class_sourced_id is null
)

select
    student_days.student_sourced_id,
    student_days.school_sourced_id,
    student_days.calendar_date as "date",
    coalesce(daily_events.absent_fraction, 0.0) as absent_fraction,
    coalesce(daily_events.absent_fraction, 0.0) > 0 as is_absent,
    coalesce(daily_events.is_excused, false) as is_excused,
    coalesce(daily_events.is_tardy, false) as is_tardy,
    daily_events.absence_code
from student_days
left join daily_events
    on daily_events.student_sourced_id = student_days.student_sourced_id
   and daily_events.school_sourced_id = student_days.school_sourced_id
   and daily_events.attendance_date = student_days.calendar_date
