with source as (
    {{ oneroster_source('academic_sessions') }}
)

select
    "sourcedId"         as academic_session_sourced_id,
    "status"            as status,
    "dateLastModified"  as date_last_modified,
    "title"             as title,
    "type"              as session_type,
    "startDate"         as start_date,
    "endDate"           as end_date,
    "parentSourcedId"   as parent_sourced_id,
    "schoolYear"        as school_year,
    "_delivery_date"    as _delivery_date,
    "_delivery_seq"   as _delivery_seq,
    "_mode"             as _mode,
    "_line"             as _line,
    "_file"             as _file
from source
