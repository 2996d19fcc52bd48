{{ config(materialized='incremental',
          pre_hook="{{ roster_upsert_delete_by_year(ref('stg_oneroster__users'), 'user_sourced_id') }}") }}
-- Each user's first listed grade (OneRoster users.grades) in each delivered school year's users state
-- (deliveries dated before 1 July of the year): last year's bands keep last year's grades.
-- Incremental (macros/incremental.sql): deltas after the published build upsert their users.
-- depends_on: {{ ref('int_bulk_deliveries__audited') }}
select school_year, user_sourced_id, grades[1] as grade
from ({{ roster_by_year(ref('stg_oneroster__users'), 'user_sourced_id') }}) as users_by_year
