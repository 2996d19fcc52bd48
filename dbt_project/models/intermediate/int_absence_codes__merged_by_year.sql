{{ config(materialized='incremental',
          pre_hook="{{ roster_upsert_delete_by_year(ref('stg_oneroster__absence_codes'), 'absence_code_sourced_id') }}") }}
-- The absence_codes of each delivered school year: the current state built from the deliveries dated before
-- 1 July of that year (macros/school_years.sql), so a later year's bulk never changes an earlier year.
-- Incremental (macros/incremental.sql): deltas after the published build upsert their keys.
-- depends_on: {{ ref('int_bulk_deliveries__audited') }}
{{ roster_by_year(ref('stg_oneroster__absence_codes'), 'absence_code_sourced_id') }}
