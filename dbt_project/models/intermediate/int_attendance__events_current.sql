-- Current attendance events by natural key (student, school, class-or-blank, date).
-- depends_on: {{ ref('int_oneroster__mass_deletion_audit') }}
-- Personal columns stay in raw/ only: this table is stored in the marts file.
select * exclude (comment)
from (
{{ attendance_current_state(ref('stg_oneroster__attendance'), ref('stg_oneroster__files')) }}
) as current_state
