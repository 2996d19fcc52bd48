-- One row per delivered file (raw/_files), including files with zero data rows.
with source as (
    {{ oneroster_source('_files') }}
)

select
    "entity"            as entity,
    "delivery_date"     as delivery_date,
    "_delivery_seq"    as delivery_seq,
    "mode"              as mode,
    "file_name"         as file_name,
    "sha256"            as sha256,
    "rows"              as row_count,
    "rejected_rows"     as rejected_row_count,
    "min_date"          as min_date,
    "max_date"          as max_date
from source
