-- Period events at the schools with a period rule (attendance.daily_from_periods) that count toward no
-- scheduled period: for a class the student is not enrolled in that day (class_not_enrolled), or for a
-- period the class does not list (period_not_scheduled). They are ignored by
-- int_daily_attendance__derived_from_periods and counted here: one row per ignored event.
with rules as (
    {{ period_rules_select() }}
),

period_events as (
    select events.*
    from {{ ref('int_attendance_events__coded') }} as events
    inner join rules
        on rules.school_sourced_id = events.school_sourced_id
       and rules.mode <> 'none'
    where events.class_sourced_id is not null
),

slots as (
    select * from {{ ref('int_period_slots__enumerated') }}
),

enrolled as (
    -- the classes of each student-day's slots, and whether each lists its periods
    select
        student_sourced_id,
        school_sourced_id,
        class_sourced_id,
        attendance_date,
        bool_or(is_whole_class) as is_whole_class,
        list(slot_period) as class_periods
    from slots
    group by all
)

select
    period_events.school_year,
    period_events.attendance_sourced_id,
    period_events.school_sourced_id,
    period_events.class_sourced_id,
    period_events.attendance_date,
    case when enrolled.student_sourced_id is null then 'class_not_enrolled' else 'period_not_scheduled' end
        as reason
from period_events
left join enrolled
    on enrolled.student_sourced_id = period_events.student_sourced_id
   and enrolled.school_sourced_id = period_events.school_sourced_id
   and enrolled.class_sourced_id = period_events.class_sourced_id
   and enrolled.attendance_date = period_events.attendance_date
where enrolled.student_sourced_id is null
   or (not enrolled.is_whole_class
       and nullif(trim(period_events.period), '') is not null
       and not list_contains(enrolled.class_periods, trim(period_events.period)))
