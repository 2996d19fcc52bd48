-- The scheduled periods ("slots") of each student-day with a period event at a school with a period
-- rule (attendance.daily_from_periods; docs/attendance-rules.md, "Daily attendance from periods"):
-- one row per class the student is enrolled in that day (that school year's class enrollments) and
-- period the class lists; a class listing no periods is one whole-class slot (slot_period '').
-- Read by int_daily_attendance__derived_from_periods (the day's verdict) and
-- int_period_events__ignored (events matching no slot).
with rules as (
    {{ period_rules_select() }}
),

student_days as (
    select distinct events.school_year, events.student_sourced_id, events.school_sourced_id, events.attendance_date
    from {{ ref('int_attendance_events__coded') }} as events
    inner join rules
        on rules.school_sourced_id = events.school_sourced_id
       and rules.mode <> 'none'
    where events.class_sourced_id is not null
),

class_enrollments as (
    select distinct
        school_year,
        user_sourced_id as student_sourced_id,
        school_sourced_id,
        class_sourced_id,
        coalesce(begin_date, date '1900-01-01') as enrolled_from,
        coalesce(
            {% if bool_var('enrollment_end_inclusive') %}cast(end_date + 1 as date){% else %}end_date{% endif %},
            date '9999-12-31'
        ) as enrolled_until
    from {{ ref('int_enrollments__merged_by_year') }}
    where role = 'student'
      and class_sourced_id is not null
),

class_periods as (
    -- a class without periods is one period of the day
    select
        school_year,
        class_sourced_id,
        unnest(
            case when len(coalesce(list_filter(periods, lambda p: nullif(trim(p), '') is not null), [])) = 0
                 then [cast(null as varchar)]
                 else list_transform(list_filter(periods, lambda p: nullif(trim(p), '') is not null), lambda p: trim(p))
            end
        ) as slot_period
    from {{ ref('int_classes__merged_by_year') }}
)

select distinct
    student_days.school_year,
    student_days.student_sourced_id,
    student_days.school_sourced_id,
    student_days.attendance_date,
    class_enrollments.class_sourced_id,
    coalesce(class_periods.slot_period, '') as slot_period,
    class_periods.slot_period is null as is_whole_class
from student_days
inner join class_enrollments
    on class_enrollments.school_year = student_days.school_year
   and class_enrollments.student_sourced_id = student_days.student_sourced_id
   and class_enrollments.school_sourced_id = student_days.school_sourced_id
   and student_days.attendance_date >= class_enrollments.enrolled_from
   and student_days.attendance_date < class_enrollments.enrolled_until
left join class_periods
    on class_periods.school_year = class_enrollments.school_year
   and class_periods.class_sourced_id = class_enrollments.class_sourced_id
