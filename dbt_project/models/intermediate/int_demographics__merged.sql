-- Current state of demographics: latest bulk replaces everything, later deltas upsert, tobedeleted deletes.
-- depends_on: {{ ref('int_bulk_deliveries__audited') }}
-- Personal columns stay in raw/ only: this table is stored in the marts file.
select * exclude (birth_date, country_of_birth_code, state_of_birth_abbreviation, city_of_birth)
from (
{{ roster_current_state(ref('stg_oneroster__demographics'), 'user_sourced_id') }}
) as current_state
