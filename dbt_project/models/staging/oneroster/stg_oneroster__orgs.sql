with source as (
    {{ oneroster_source('orgs') }}
)

select
    "sourcedId"         as org_sourced_id,
    "status"            as status,
    "dateLastModified"  as date_last_modified,
    "name"              as org_name,
    "type"              as org_type,
    "identifier"        as identifier,
    "parentSourcedId"   as parent_sourced_id,
    "_delivery_date"    as _delivery_date,
    "_delivery_seq"   as _delivery_seq,
    "_mode"             as _mode,
    "_line"             as _line,
    "_file"             as _file
from source
