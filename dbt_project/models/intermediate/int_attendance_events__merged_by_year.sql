{{ config(materialized='incremental',
          pre_hook="{{ attendance_upsert_delete_by_year(ref('stg_oneroster__attendance')) }}") }}
-- Attendance events of each delivered school year: the events dated inside the year (1 July - 30 June)
-- in the state built from the deliveries dated before 1 July of that year, then the corrections of the
-- year delivered later (macros/school_years.sql, attendance_state_of_year): a later delivery's rows
-- dated in a past year upsert or delete them, a later year's bulk replaces nothing of it.
-- Incremental (macros/incremental.sql): deltas after the published build upsert their natural keys.
-- depends_on: {{ ref('int_bulk_deliveries__audited') }}
-- Personal columns stay in raw/ only: this table is stored in the marts file.
{%- if upsert_build() %}
{{ attendance_upsert_by_year(ref('stg_oneroster__attendance')) }}
{%- else %}
{%- for year in delivered_school_years() %}
select {{ year }} as school_year, year_state.* exclude (comment)
from (
{{ attendance_state_of_year(ref('stg_oneroster__attendance'), ref('stg_oneroster__files'), year) }}
) as year_state
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{%- endif %}
