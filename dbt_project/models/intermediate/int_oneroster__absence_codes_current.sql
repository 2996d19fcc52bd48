-- Current state of absence_codes: latest bulk replaces everything, later deltas upsert, tobedeleted deletes.
-- depends_on: {{ ref('int_oneroster__mass_deletion_audit') }}
{{ roster_current_state(ref('stg_oneroster__absence_codes'), 'absence_code_sourced_id') }}
