-- Daily attendance derived from period (class) events, at the licensed schools whose rule
-- (attendance.daily_from_periods; docs/attendance-rules.md, "Daily attendance from periods") is not
-- `none`. One row per student x school x date with at least one period event that matches a
-- scheduled period: the day's scheduled periods (int_period_slots__enumerated: one per period a
-- class lists, one for a class listing none, over the student's class enrollments active that day),
-- the absent ones, the minutes absent, and the rule's verdict: absent_fraction 1 (full day), 0.5 (half day) or 0.
-- Period events matching no scheduled period are in int_period_events__ignored.
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

-- an event marks its class's slot of its period; an event without a period, or a class without
-- periods, marks every slot of the class
matches as (
    select
        period_events.school_year,
        period_events.attendance_sourced_id,
        period_events.student_sourced_id,
        period_events.school_sourced_id,
        period_events.attendance_date,
        slots.class_sourced_id,
        slots.slot_period,
        period_events.absent_fraction > 0 as is_absent,
        period_events.minutes_absent
    from period_events
    inner join slots
        on slots.student_sourced_id = period_events.student_sourced_id
       and slots.school_sourced_id = period_events.school_sourced_id
       and slots.attendance_date = period_events.attendance_date
       and slots.class_sourced_id = period_events.class_sourced_id
       and (slots.is_whole_class or nullif(trim(period_events.period), '') is null
            or trim(period_events.period) = slots.slot_period)
),

scheduled as (
    select school_year, student_sourced_id, school_sourced_id, attendance_date, count(*) as scheduled_periods
    from slots
    group by all
),

absent_slots as (
    select
        school_year, student_sourced_id, school_sourced_id, attendance_date,
        count(distinct (class_sourced_id, slot_period)) filter (where is_absent) as absent_periods,
        count(distinct class_sourced_id) as period_events
    from matches
    group by all
),

absent_minutes as (
    -- each absent event's minutes once (an event is one class of the day), whatever the number of
    -- slots it marks; blank minutesAbsent counts 0
    select school_year, student_sourced_id, school_sourced_id, attendance_date,
           sum(coalesce(minutes_absent, 0)) as absent_minutes
    from (select distinct school_year, student_sourced_id, school_sourced_id, attendance_date, class_sourced_id,
                          minutes_absent
          from matches where is_absent)
    group by all
),

codes as (
    select * from {{ ref('int_absence_codes__merged_by_year') }}
),

rule_codes as (
    -- the rule's code at each school: a school-specific code first, a sourcedId match before a title
    select
        codes.school_year,
        rules.school_sourced_id,
        codes.absence_code_sourced_id,
        codes.title,
        coalesce(codes.is_excused, false) as is_excused,
        row_number() over (
            partition by codes.school_year, rules.school_sourced_id
            order by
                case when codes.school_sourced_id is not null then 0 else 1 end,
                case when codes.absence_code_sourced_id = rules.code then 0 else 1 end,
                codes.absence_code_sourced_id
        ) as code_rank
    from rules
    inner join codes
        on (codes.absence_code_sourced_id = rules.code or codes.title = rules.code)
       and (codes.school_sourced_id is null or codes.school_sourced_id = rules.school_sourced_id)
       and coalesce(codes.is_absent, false)
    where rules.mode <> 'none'
),

verdicts as (
    select
        absent_slots.school_year,
        absent_slots.student_sourced_id,
        absent_slots.school_sourced_id,
        absent_slots.attendance_date,
        scheduled.scheduled_periods,
        absent_slots.absent_periods,
        coalesce(absent_minutes.absent_minutes, 0) as absent_minutes,
        absent_slots.period_events,
        rules.mode,
        rules.precedence,
        rules.code as rule_code,
        case
            when absent_slots.absent_periods = 0 then 0.0
            when rules.mode = 'all_periods' and absent_slots.absent_periods >= scheduled.scheduled_periods then 1.0
            when rules.mode = 'share'
                 and absent_slots.absent_periods >= rules.share * scheduled.scheduled_periods - 1e-9 then 1.0
            when rules.mode = 'minutes'
                 and coalesce(absent_minutes.absent_minutes, 0) >= rules.minutes - 1e-9 then 1.0
            when rules.half_day_share is not null
                 and absent_slots.absent_periods >= rules.half_day_share * scheduled.scheduled_periods - 1e-9 then 0.5
            else 0.0
        end as absent_fraction
    from absent_slots
    inner join scheduled
        on scheduled.student_sourced_id = absent_slots.student_sourced_id
       and scheduled.school_sourced_id = absent_slots.school_sourced_id
       and scheduled.attendance_date = absent_slots.attendance_date
    inner join rules
        on rules.school_sourced_id = absent_slots.school_sourced_id
    left join absent_minutes
        on absent_minutes.student_sourced_id = absent_slots.student_sourced_id
       and absent_minutes.school_sourced_id = absent_slots.school_sourced_id
       and absent_minutes.attendance_date = absent_slots.attendance_date
)

select
    verdicts.school_year,
    verdicts.student_sourced_id,
    verdicts.school_sourced_id,
    verdicts.attendance_date,
    verdicts.scheduled_periods,
    verdicts.absent_periods,
    verdicts.absent_minutes,
    verdicts.period_events,
    verdicts.mode,
    verdicts.precedence,
    verdicts.absent_fraction,
    case when verdicts.absent_fraction > 0 then coalesce(rule_codes.title, verdicts.rule_code) end as absence_code,
    case when verdicts.absent_fraction > 0 then rule_codes.absence_code_sourced_id end as absence_code_sourced_id,
    verdicts.absent_fraction > 0 and coalesce(rule_codes.is_excused, false) as is_excused,
    rule_codes.absence_code_sourced_id is not null as is_code_resolved
from verdicts
left join rule_codes
    on rule_codes.school_year = verdicts.school_year
   and rule_codes.school_sourced_id = verdicts.school_sourced_id
   and rule_codes.code_rank = 1
