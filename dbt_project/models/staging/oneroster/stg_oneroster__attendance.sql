with source as (
    {{ oneroster_source('attendance') }}
)

select
    "sourcedId"         as attendance_sourced_id,
    "status"            as status,
    "dateLastModified"  as date_last_modified,
    "classSourcedId"    as class_sourced_id,
    "schoolSourcedId"   as school_sourced_id,
    "userSourcedId"     as user_sourced_id,
    "date"              as attendance_date,
    "absenceCode"       as absence_code,
    "period"            as period,
    "minutesAbsent"     as minutes_absent,
    "comment"           as comment,
    "_delivery_date"    as _delivery_date,
    "_delivery_seq"   as _delivery_seq,
    "_mode"             as _mode,
    "_line"             as _line,
    "_file"             as _file
from source
