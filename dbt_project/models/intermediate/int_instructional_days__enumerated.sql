-- Instructional days per licensed school and school year: weekdays in [startDate, endDate) of each
-- school year of int_school_years__resolved, up to its as-of date, minus district and school
-- non-instructional days (dates: each belongs to the year holding it).
with school_year as (
    select * from {{ ref('int_school_years__resolved') }}
),

schools as (
    -- the licensed schools of each year's orgs: a school closed since keeps its past years
    select school_year, school_sourced_id
    from {{ ref('int_schools__flagged_by_license') }}
    where is_licensed
),

days as (
    select school_year.school_year, cast(generate_series as date) as calendar_date
    from school_year,
        generate_series(
            cast(school_year.start_date as timestamp),
            cast(school_year.as_of_date as timestamp),
            interval 1 day
        )
    where school_year.as_of_date >= school_year.start_date
),

weekdays as (
    select school_year, calendar_date
    from days
    where isodow(calendar_date) between 1 and 5
      and not list_contains({{ customer_list('non_instructional_days', 'date') }}, calendar_date)
),

school_closures as (
    {{ school_closures_select() }}
)

select
    schools.school_sourced_id,
    weekdays.calendar_date,
    weekdays.school_year
from schools
inner join weekdays
    on weekdays.school_year = schools.school_year
anti join school_closures
    on school_closures.school_sourced_id = schools.school_sourced_id
   and school_closures.closed_date = weekdays.calendar_date
