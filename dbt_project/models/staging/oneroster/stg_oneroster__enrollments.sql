with source as (
    {{ oneroster_source('enrollments') }}
)

select
    "sourcedId"         as enrollment_sourced_id,
    "status"            as status,
    "dateLastModified"  as date_last_modified,
    "classSourcedId"    as class_sourced_id,
    "schoolSourcedId"   as school_sourced_id,
    "userSourcedId"     as user_sourced_id,
    "role"              as role,
    "primary"           as is_primary,
    "beginDate"         as begin_date,
    "endDate"           as end_date,
    "_delivery_date"    as _delivery_date,
    "_delivery_seq"   as _delivery_seq,
    "_mode"             as _mode,
    "_line"             as _line,
    "_file"             as _file
from source
