with source as (
    {{ oneroster_source('absence_codes') }}
)

select
    "sourcedId"         as absence_code_sourced_id,
    "status"            as status,
    "dateLastModified"  as date_last_modified,
    "title"             as title,
    "absent"            as is_absent,
    "excused"           as is_excused,
    "description"       as description,
    "schoolSourcedId"   as school_sourced_id,
    "category"          as category,
    "dayFraction"       as day_fraction,
    "_delivery_date"    as _delivery_date,
    "_delivery_seq"   as _delivery_seq,
    "_mode"             as _mode,
    "_line"             as _line,
    "_file"             as _file
from source
