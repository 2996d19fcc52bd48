-- Blocking: attendance was delivered but no academic session lies mostly inside the configured school
-- year (int_school_years__resolved has no row of that year), so every attendance mart would be empty. Fix the
-- customer's school_year (the finding session.no_school_year of `kinvolved validate` names the
-- latest schoolYear session and the year to set) or send the academic sessions of that year.
{{ config(severity='error') }}

select
    {{ var('school_year') | int }} as configured_school_year,
    (select count(*) from {{ ref('stg_oneroster__files') }} where entity = 'attendance') as attendance_files
from (
    select count(*) as n from {{ ref('int_school_years__resolved') }}
    where school_year = {{ var('school_year') | int }}
) as resolved
where resolved.n = 0
  and exists (select 1 from {{ ref('stg_oneroster__files') }} where entity = 'attendance')
