-- Blocking guard: the latest bulk of an entity may not delete more than mass_deletion_fraction of
-- the records active just before it, unless the run sets force_mass_deletion: true.
-- Failing rows carry counts only (no record values).
{{ config(severity='error') }}

select
    entity,
    delivery_date,
    would_delete,
    active_before
from {{ ref('int_oneroster__mass_deletion_audit') }}
where not {{ bool_var('force_mass_deletion') }}
  and active_before > 0
  and would_delete > {{ var('mass_deletion_fraction') | float }} * active_before
