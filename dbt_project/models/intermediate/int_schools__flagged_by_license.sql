-- The schools of each delivered school year (that year's orgs state, int_orgs__merged_by_year),
-- flagged licensed when the config lists their sourcedId or identifier.
select
    school_year,
    org_sourced_id as school_sourced_id,
    org_name as school_name,
    identifier,
    parent_sourced_id as district_sourced_id,
    (
        list_contains({{ customer_list('licensed_schools', 'varchar') }}, org_sourced_id)
        or coalesce(list_contains({{ customer_list('licensed_schools', 'varchar') }}, identifier), false)
    ) as is_licensed
from {{ ref('int_orgs__merged_by_year') }}
where org_type = 'school'
