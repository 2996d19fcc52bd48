-- The schools of every delivered school year (each year's orgs as of the end of that year once it is
-- over); is_licensed marks the ones whose attendance is reported.
select
    school_sourced_id,
    school_year,
    school_name as name,
    identifier,
    district_sourced_id,
    is_licensed
from {{ ref('int_schools__flagged_by_license') }}
