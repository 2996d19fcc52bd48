-- Year-to-date attendance per student, school and school year, aggregated from
-- fct_student_daily_attendance, with the student's previous school year beside it: prior_year_* over
-- all the student's licensed schools of school_year - 1 (NULL when not enrolled then).
with daily as (
    select * from {{ ref('fct_student_daily_attendance') }}
),

school_year as (
    select school_year, as_of_date from {{ ref('int_school_years__resolved') }}
),

totals as (
    select
        student_sourced_id,
        school_sourced_id,
        school_year,
        count(*) as days_enrolled,
        sum(absent_fraction) as days_absent
    from daily
    group by student_sourced_id, school_sourced_id, school_year
),

student_years as (
    -- one student's year over all their schools: what a school sees of last year when the student
    -- moved up from another school
    select
        student_sourced_id,
        school_year,
        sum(days_enrolled) as days_enrolled,
        sum(days_absent) as days_absent
    from totals
    group by student_sourced_id, school_year
)

select
    totals.student_sourced_id,
    totals.school_sourced_id,
    school_year.school_year,
    totals.days_enrolled,
    totals.days_absent,
    totals.days_enrolled - totals.days_absent as days_present,
    (totals.days_enrolled - totals.days_absent) / totals.days_enrolled as attendance_rate,
    {{ is_chronic('totals.days_enrolled', 'totals.days_absent') }} as is_chronically_absent,
    school_year.as_of_date,
    case when prior.days_enrolled > 0
         then (prior.days_enrolled - prior.days_absent) / prior.days_enrolled end as prior_year_attendance_rate,
    case when prior.days_enrolled > 0
         then {{ is_chronic('prior.days_enrolled', 'prior.days_absent') }} end as prior_year_is_chronically_absent
from totals
inner join school_year
    on school_year.school_year = totals.school_year
left join student_years as prior
    on prior.student_sourced_id = totals.student_sourced_id
   and prior.school_year = totals.school_year - 1
where totals.days_enrolled > 0
