-- The configured school year and the as-of date certified by attendance deliveries.
with school_year_sessions as (
    select
        min(start_date) as start_date,
        max(end_date) as end_date           -- exclusive
    from {{ ref('int_oneroster__academic_sessions_current') }}
    where session_type = 'schoolYear'
      and school_year = {{ var('school_year') | int }}
),

attendance_files as (
    -- a nightly attendance file certifies attendance through its delivery date
    select max(delivery_date) as last_attendance_delivery
    from {{ ref('stg_oneroster__files') }}
    where entity = 'attendance'
)

select
    {{ var('school_year') | int }} as school_year,
    school_year_sessions.start_date,
    school_year_sessions.end_date,
    -- no attendance file yet: no certified day (least() would ignore the NULL)
    case
        when attendance_files.last_attendance_delivery is not null
            then least(
                attendance_files.last_attendance_delivery,
                cast(school_year_sessions.end_date - 1 as date)
            )
    end as as_of_date
from school_year_sessions
cross join attendance_files
where school_year_sessions.start_date is not null
