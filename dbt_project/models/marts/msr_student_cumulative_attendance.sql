-- Year-to-date attendance per student and school, aggregated from fct_student_daily_attendance.
with daily as (
    select * from {{ ref('fct_student_daily_attendance') }}
),

school_year as (
    select school_year, as_of_date from {{ ref('int_calendar__school_year') }}
),

totals as (
    select
        student_sourced_id,
        school_sourced_id,
        count(*) as days_enrolled,
        sum(absent_fraction) as days_absent
    from daily
    group by student_sourced_id, school_sourced_id
)

select
    totals.student_sourced_id,
    totals.school_sourced_id,
    school_year.school_year,
    totals.days_enrolled,
    totals.days_absent,
    totals.days_enrolled - totals.days_absent as days_present,
    (totals.days_enrolled - totals.days_absent) / totals.days_enrolled as attendance_rate,
    (
        totals.days_enrolled >= {{ var('min_enrolled_days') | int }}
        -- small tolerance so that e.g. 3 of 30 days meets a 0.10 threshold despite float rounding
        and totals.days_absent >= {{ var('chronic_threshold') | float }} * totals.days_enrolled - 1e-9
    ) as is_chronically_absent,
    school_year.as_of_date
from totals
cross join school_year
where totals.days_enrolled > 0
