-- All current schools; is_licensed marks the ones whose attendance is reported.
select
    school_sourced_id,
    school_name as name,
    identifier,
    district_sourced_id,
    is_licensed
from {{ ref('int_oneroster__schools') }}
