with source as (
    {{ oneroster_source('classes') }}
)

select
    "sourcedId"         as class_sourced_id,
    "status"            as status,
    "dateLastModified"  as date_last_modified,
    "title"             as title,
    "grades"            as grades,
    "courseSourcedId"   as course_sourced_id,
    "classCode"         as class_code,
    "classType"         as class_type,
    "location"          as location,
    "schoolSourcedId"   as school_sourced_id,
    "termSourcedIds"    as term_sourced_ids,
    "subjects"          as subjects,
    "subjectCodes"      as subject_codes,
    "periods"           as periods,
    "_delivery_date"    as _delivery_date,
    "_delivery_seq"   as _delivery_seq,
    "_mode"             as _mode,
    "_line"             as _line,
    "_file"             as _file
from source
