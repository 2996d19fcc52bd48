-- The classes of licensed schools in every delivered school year (each year's classes and courses as
-- of the end of that year once it is over), with their course.
with classes as (
    select * from {{ ref('int_classes__merged_by_year') }}
),

courses as (
    select * from {{ ref('int_courses__merged_by_year') }}
),

licensed_schools as (
    select school_year, school_sourced_id from {{ ref('int_schools__flagged_by_license') }} where is_licensed
)

select
    classes.class_sourced_id,
    classes.school_year,
    classes.title,
    classes.course_sourced_id,
    courses.title as course_title,
    classes.school_sourced_id,
    classes.class_type,
    classes.term_sourced_ids,
    classes.periods
from classes
inner join licensed_schools
    on classes.school_year = licensed_schools.school_year
   and classes.school_sourced_id = licensed_schools.school_sourced_id
left join courses
    on classes.school_year = courses.school_year
   and classes.course_sourced_id = courses.course_sourced_id
