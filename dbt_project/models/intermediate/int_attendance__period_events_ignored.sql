-- Period events at the schools with a period rule (attendance.daily_from_periods) that count toward no
-- scheduled period: for a class the student is not enrolled in that day (class_not_enrolled), or for a
-- period the class does not list (period_not_scheduled). They are ignored by
-- int_attendance__daily_derived_from_periods and counted here: one row per ignored event.
with rules as (
    {{ period_rules_select() }}
),

period_events as (
    select events.*
    from {{ ref('int_attendance__events_coded') }} as events
    inner join rules
        on rules.school_sourced_id = events.school_sourced_id
       and rules.mode <> 'none'
    where events.class_sourced_id is not null
),

class_enrollments as (
    select
        school_year,
        user_sourced_id as student_sourced_id,
        school_sourced_id,
        class_sourced_id,
        coalesce(begin_date, date '1900-01-01') as enrolled_from,
        coalesce(
            {% if bool_var('enrollment_end_inclusive') %}cast(end_date + 1 as date){% else %}end_date{% endif %},
            date '9999-12-31'
        ) as enrolled_until
    from {{ ref('int_oneroster__enrollments_by_year') }}
    where role = 'student'
      and class_sourced_id is not null
),

enrolled as (
    select distinct
        period_events.student_sourced_id,
        period_events.school_sourced_id,
        period_events.class_sourced_id,
        period_events.attendance_date
    from period_events
    inner join class_enrollments
        on class_enrollments.school_year = period_events.school_year
       and class_enrollments.student_sourced_id = period_events.student_sourced_id
       and class_enrollments.school_sourced_id = period_events.school_sourced_id
       and class_enrollments.class_sourced_id = period_events.class_sourced_id
       and period_events.attendance_date >= class_enrollments.enrolled_from
       and period_events.attendance_date < class_enrollments.enrolled_until
),

classes as (
    select
        school_year,
        class_sourced_id,
        list_transform(list_filter(coalesce(periods, []), lambda p: nullif(trim(p), '') is not null), lambda p: trim(p))
            as class_periods
    from {{ ref('int_oneroster__classes_by_year') }}
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
left join classes
    on classes.school_year = period_events.school_year
   and classes.class_sourced_id = period_events.class_sourced_id
where enrolled.student_sourced_id is null
   or (len(coalesce(classes.class_periods, [])) > 0
       and nullif(trim(period_events.period), '') is not null
       and not list_contains(classes.class_periods, trim(period_events.period)))
