-- Current state of academic_sessions: latest bulk replaces everything, later deltas upsert, tobedeleted deletes.
-- depends_on: {{ ref('int_oneroster__mass_deletion_audit') }}
{{ roster_current_state(ref('stg_oneroster__academic_sessions'), 'academic_session_sourced_id') }}
