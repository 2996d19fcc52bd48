-- Current state of OneRoster 1.2 roles: latest bulk replaces everything, later deltas upsert, tobedeleted deletes.
-- depends_on: {{ ref('int_bulk_deliveries__audited') }}
{{ roster_current_state(ref('stg_oneroster__roles'), 'role_sourced_id') }}
