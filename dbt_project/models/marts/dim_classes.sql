-- Current classes of licensed schools, with their course.
with classes as (
    select * from {{ ref('int_oneroster__classes_current') }}
),

courses as (
    select * from {{ ref('int_oneroster__courses_current') }}
),

licensed_schools as (
    select school_sourced_id from {{ ref('int_oneroster__schools') }} where is_licensed
)

select
    classes.class_sourced_id,
    classes.title,
    classes.course_sourced_id,
    courses.title as course_title,
    classes.school_sourced_id,
    classes.class_type,
    classes.term_sourced_ids,
    classes.periods
from classes
inner join licensed_schools
    on classes.school_sourced_id = licensed_schools.school_sourced_id
left join courses
    on classes.course_sourced_id = courses.course_sourced_id
