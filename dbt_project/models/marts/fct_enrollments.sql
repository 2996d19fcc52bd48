-- Enrollments in licensed schools of every delivered school year (each year's enrollments as of the
-- end of that year once it is over: the next year's first bulk does not remove them). end_date is
-- exclusive: when the district sends inclusive end dates (var enrollment_end_inclusive) one day is added.
with enrollments as (
    select * from {{ ref('int_enrollments__merged_by_year') }}
),

licensed_schools as (
    select school_year, school_sourced_id from {{ ref('int_schools__flagged_by_license') }} where is_licensed
)

select
    enrollments.enrollment_sourced_id,
    enrollments.school_year,
    enrollments.class_sourced_id,
    enrollments.school_sourced_id,
    enrollments.user_sourced_id,
    enrollments.role,
    enrollments.is_primary,
    enrollments.begin_date,
    {% if bool_var('enrollment_end_inclusive') -%}
    cast(enrollments.end_date + 1 as date)
    {%- else -%}
    enrollments.end_date
    {%- endif %} as end_date
from enrollments
inner join licensed_schools
    on enrollments.school_year = licensed_schools.school_year
   and enrollments.school_sourced_id = licensed_schools.school_sourced_id
