-- The courses of each delivered school year: the current state built from the deliveries dated before
-- 1 July of that year (macros/school_years.sql), so a later year's bulk never changes an earlier year.
-- depends_on: {{ ref('int_bulk_deliveries__audited') }}
{{ roster_state_by_year(ref('stg_oneroster__courses'), 'course_sourced_id') }}
