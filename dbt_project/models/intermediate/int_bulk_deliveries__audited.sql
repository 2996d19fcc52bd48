{{ config(materialized='incremental', pre_hook="{{ incremental_reset() }}") }}
-- What the latest effective bulk of each entity removed compared with the state just before it.
-- Guarded by tests/assert_no_mass_deletion.sql; every merged model depends on this model (a
-- `-- depends_on:` comment, dbt_project/README.md, "Mass-deletion ordering"), so a failing guard skips
-- the whole downstream build.
-- Incremental: a build after deltas only (no bulk arrived, macros/incremental.sql) keeps the published rows.
{% if upsert_build() %}
select * from {{ this }} where false
{% else %}
{% set roster = [
    ('orgs', 'org_sourced_id'),
    ('academic_sessions', 'academic_session_sourced_id'),
    ('courses', 'course_sourced_id'),
    ('classes', 'class_sourced_id'),
    ('users', 'user_sourced_id'),
    ('roles', 'role_sourced_id'),
    ('enrollments', 'enrollment_sourced_id'),
    ('demographics', 'user_sourced_id'),
    ('absence_codes', 'absence_code_sourced_id'),
] %}
{% for entity, key in roster %}
select * from (
    {{ roster_deletion_audit(entity, ref('stg_oneroster__' ~ entity), key) }}
)
union all
{% endfor %}
select * from (
    {{ attendance_deletion_audit(ref('stg_oneroster__attendance'), ref('stg_oneroster__files')) }}
)
{% endif %}
