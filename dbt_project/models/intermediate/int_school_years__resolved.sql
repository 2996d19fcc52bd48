-- One row per delivered school year (macros/school_years.sql: every school year holding a delivery,
-- up to the configured current year var('school_year')) with its dates and as-of date.
-- Resolved by dates, not by the schoolYear label (SIS write the starting or the ending year): the
-- schoolYear sessions of the year's own state lying mostly (more than half their days) inside year Y's
-- window Y-1-07-01 .. Y-06-30, whatever their label; without any, the term/semester/gradingPeriod
-- sessions that do. Same rule as kinvolved_assets/oneroster/school_year.py; no match for the current
-- year is a failed test (tests/assert_school_year_resolved.sql), never empty marts.
-- A year with a calendar in the config (school_years: first_day, last_day) takes its dates from there.
-- As-of date: the current year's is the last attendance delivery (at most the last school day); an
-- earlier year is over: its as-of date is its last school day.
{% set current = var('school_year') | int %}
with sessions as (
    select * from {{ ref('int_academic_sessions__merged_by_year') }}
),

candidates as (
    select
        school_year,
        start_date,
        end_date,
        case when session_type = 'schoolYear' then 0 else 1 end as type_rank
    from sessions
    where session_type in ('schoolYear', 'term', 'semester', 'gradingPeriod')
      and start_date is not null and end_date >= start_date
      and 2 * (date_diff('day', greatest(start_date, make_date(school_year - 1, 7, 1)),
                         least(end_date, make_date(school_year, 6, 30))) + 1)
          > date_diff('day', start_date, end_date) + 1
),

session_dates as (
    select
        school_year,
        min(start_date) as start_date,
        max(end_date) as end_date           -- exclusive
    from candidates
    where type_rank = (select min(c.type_rank) from candidates as c where c.school_year = candidates.school_year)
    group by school_year
),

configured as (
    -- the config's school_years blocks of delivered years: first and last school day (inclusive)
    select school_year, first_day, last_day
    from ({{ school_calendars_select() }}) as calendars
    where school_year in ({{ delivered_school_years() | join(', ') }})
),

school_year_sessions as (
    -- a configured calendar wins over the sessions' dates; it also stands for a year without sessions
    select
        coalesce(configured.school_year, session_dates.school_year) as school_year,
        coalesce(configured.first_day, session_dates.start_date) as start_date,
        coalesce(cast(configured.last_day + 1 as date), session_dates.end_date) as end_date
    from session_dates
    full outer join configured
        on configured.school_year = session_dates.school_year
),

attendance_files as (
    -- a nightly attendance file certifies attendance through its delivery date
    select max(delivery_date) as last_attendance_delivery
    from {{ ref('stg_oneroster__files') }}
    where entity = 'attendance'
      and delivery_date < {{ school_year_cutoff(current) }}
)

select
    school_year_sessions.school_year,
    school_year_sessions.start_date,
    school_year_sessions.end_date,
    -- no attendance file yet: no certified day (least() would ignore the NULL)
    case
        when attendance_files.last_attendance_delivery is null then null
        when school_year_sessions.school_year < {{ current }}
            then cast(school_year_sessions.end_date - 1 as date)
        else least(
            attendance_files.last_attendance_delivery,
            cast(school_year_sessions.end_date - 1 as date)
        )
    end as as_of_date
from school_year_sessions
cross join attendance_files
where school_year_sessions.start_date is not null
