-- Each student x licensed school of msr_student_cumulative_attendance in an attendance band
-- (Attendance Works): satisfactory >= band_satisfactory (95 %), at_risk >= band_at_risk (90 %),
-- moderate_chronic >= band_moderate_chronic (80 %), severe_chronic below. Thresholds are dbt vars.
with cumulative as (
    select * from {{ ref('msr_student_cumulative_attendance') }}
),

grades as (
    -- the student's first listed grade (OneRoster users.grades) of that school year; NULL when none is sent
    select school_year, user_sourced_id, grade
    from {{ ref('int_user_grades__merged_by_year') }}
)

select
    cumulative.student_sourced_id,
    cumulative.school_sourced_id,
    cumulative.school_year,
    grades.grade,
    cumulative.days_enrolled,
    cumulative.days_absent,
    cumulative.attendance_rate,
    case
        when cumulative.attendance_rate >= {{ var('band_satisfactory') | float }} - 1e-9 then 'satisfactory'
        when cumulative.attendance_rate >= {{ var('band_at_risk') | float }} - 1e-9 then 'at_risk'
        when cumulative.attendance_rate >= {{ var('band_moderate_chronic') | float }} - 1e-9 then 'moderate_chronic'
        else 'severe_chronic'
    end as attendance_band,
    case
        when cumulative.attendance_rate >= {{ var('band_satisfactory') | float }} - 1e-9 then 1
        when cumulative.attendance_rate >= {{ var('band_at_risk') | float }} - 1e-9 then 2
        when cumulative.attendance_rate >= {{ var('band_moderate_chronic') | float }} - 1e-9 then 3
        else 4
    end as band_order,
    cumulative.is_chronically_absent,
    cumulative.as_of_date
from cumulative
left join grades
    on grades.user_sourced_id = cumulative.student_sourced_id
   and grades.school_year = cumulative.school_year
