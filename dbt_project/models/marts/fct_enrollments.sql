-- Current enrollments in licensed schools. end_date is exclusive: when the district sends
-- inclusive end dates (var enrollment_end_inclusive) one day is added.
with enrollments as (
    select * from {{ ref('int_oneroster__enrollments_current') }}
),

licensed_schools as (
    select school_sourced_id from {{ ref('int_oneroster__schools') }} where is_licensed
)

select
    enrollments.enrollment_sourced_id,
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
    on enrollments.school_sourced_id = licensed_schools.school_sourced_id
