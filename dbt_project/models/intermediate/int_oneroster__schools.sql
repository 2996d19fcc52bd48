-- Current schools, flagged licensed when the config lists their sourcedId or identifier.
{% set licensed = var('licensed_schools') %}
select
    org_sourced_id as school_sourced_id,
    org_name as school_name,
    identifier,
    parent_sourced_id as district_sourced_id,
    (
        list_contains({{ varchar_array(licensed) }}, org_sourced_id)
        or coalesce(list_contains({{ varchar_array(licensed) }}, identifier), false)
    ) as is_licensed
from {{ ref('int_oneroster__orgs_current') }}
where org_type = 'school'
