with source as (
    {{ oneroster_source('courses') }}
)

select
    "sourcedId"             as course_sourced_id,
    "status"                as status,
    "dateLastModified"      as date_last_modified,
    "schoolYearSourcedId"   as school_year_sourced_id,
    "title"                 as title,
    "courseCode"            as course_code,
    "grades"                as grades,
    "orgSourcedId"          as org_sourced_id,
    "subjects"              as subjects,
    "subjectCodes"          as subject_codes,
    "_delivery_date"        as _delivery_date,
    "_delivery_seq"       as _delivery_seq,
    "_mode"                 as _mode,
    "_line"                 as _line,
    "_file"                 as _file
from source
