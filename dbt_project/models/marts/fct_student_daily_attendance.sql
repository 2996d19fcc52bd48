-- One row per student x licensed school x instructional day while enrolled (dense: no event = present),
-- over every delivered school year (school_year: each year's calendar, enrollments and events).
-- Built set-based: instructional calendar range-joined to merged enrollment spans, then the
-- daily (school-level, blank class) events left-joined on the natural key. At schools with a period
-- rule (attendance.daily_from_periods) a day derived from period events takes the place of a missing
-- daily event (precedence daily_event, the default) or of any daily event (precedence periods).
with calendar as (
    select school_year, school_sourced_id, calendar_date
    from {{ ref('int_instructional_days__enumerated') }}
),

spans as (
    select * from {{ ref('int_student_school_spans__aggregated') }}
),

student_days as (
    select
        spans.school_year,
        spans.student_sourced_id,
        spans.school_sourced_id,
        calendar.calendar_date
    from spans
    inner join calendar
        on calendar.school_year = spans.school_year
       and calendar.school_sourced_id = spans.school_sourced_id
       and calendar.calendar_date >= spans.span_begin
       and calendar.calendar_date < spans.span_end
),

daily_events as (
    select *
    from {{ ref('int_attendance_events__coded') }}
    where class_sourced_id is null
),

derived as (
    select * from {{ ref('int_daily_attendance__derived_from_periods') }}
),

day_events as (
    select
        student_days.*,
        case
            when derived.student_sourced_id is not null
                 and (daily_events.student_sourced_id is null or derived.precedence = 'periods')
                then derived.absent_fraction
            else daily_events.absent_fraction
        end as absent_fraction,
        case
            when derived.student_sourced_id is not null
                 and (daily_events.student_sourced_id is null or derived.precedence = 'periods')
                then derived.is_excused
            else daily_events.is_excused
        end as is_excused,
        case
            when derived.student_sourced_id is not null
                 and (daily_events.student_sourced_id is null or derived.precedence = 'periods')
                then false
            else daily_events.is_tardy
        end as is_tardy,
        case
            when derived.student_sourced_id is not null
                 and (daily_events.student_sourced_id is null or derived.precedence = 'periods')
                then derived.absence_code
            else daily_events.absence_code
        end as absence_code
    from student_days
    left join daily_events
        on daily_events.student_sourced_id = student_days.student_sourced_id
       and daily_events.school_sourced_id = student_days.school_sourced_id
       and daily_events.attendance_date = student_days.calendar_date
    left join derived
        on derived.student_sourced_id = student_days.student_sourced_id
       and derived.school_sourced_id = student_days.school_sourced_id
       and derived.attendance_date = student_days.calendar_date
)

select
    student_sourced_id,
    school_sourced_id,
    calendar_date as "date",
    school_year,
    coalesce(absent_fraction, 0.0) as absent_fraction,
    coalesce(absent_fraction, 0.0) > 0 as is_absent,
    coalesce(is_excused, false) as is_excused,
    coalesce(is_tardy, false) as is_tardy,
    absence_code
from day_events
