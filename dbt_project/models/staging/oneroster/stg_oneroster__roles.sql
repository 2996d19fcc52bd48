with source as (
    {{ oneroster_source('roles') }}
)

select
    "sourcedId"             as role_sourced_id,
    "status"                as status,
    "dateLastModified"      as date_last_modified,
    "userSourcedId"         as user_sourced_id,
    "roleType"              as role_type,
    "role"                  as role,
    "beginDate"             as begin_date,
    "endDate"               as end_date,
    "orgSourcedId"          as org_sourced_id,
    "userProfileSourcedId"  as user_profile_sourced_id,
    "_delivery_date"        as _delivery_date,
    "_delivery_seq"       as _delivery_seq,
    "_mode"                 as _mode,
    "_line"                 as _line,
    "_file"                 as _file
from source
