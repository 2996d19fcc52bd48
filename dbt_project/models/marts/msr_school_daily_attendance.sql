-- Per licensed school and instructional day. students_absent is the sum of absent_fraction
-- (a half-day absence counts 0.5); students_with_absence counts students with any absence.
-- Every delivered school year (school_year of the day).
select
    school_sourced_id,
    "date",
    school_year,
    count(*) as students_enrolled,
    sum(absent_fraction) as students_absent,
    count(*) filter (where absent_fraction > 0) as students_with_absence,
    (count(*) - sum(absent_fraction)) / count(*) as attendance_rate
from {{ ref('fct_student_daily_attendance') }}
group by school_sourced_id, "date", school_year
