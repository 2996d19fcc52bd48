-- Current state of users: latest bulk replaces everything, later deltas upsert, tobedeleted deletes.
-- depends_on: {{ ref('int_oneroster__mass_deletion_audit') }}
-- Personal columns stay in raw/ only: this table is stored in the marts file.
select * exclude (username, given_name, family_name, middle_name, email, sms, phone, password)
from (
{{ roster_current_state(ref('stg_oneroster__users'), 'user_sourced_id') }}
) as current_state
