{{ config(materialized='incremental',
          pre_hook="{{ roster_upsert_delete(ref('stg_oneroster__users'), 'user_sourced_id') }}") }}
-- Current state of users.csv: latest bulk replaces everything, later deltas upsert, tobedeleted deletes.
-- Incremental (macros/incremental.sql): deltas after the published build upsert the users they touch.
-- depends_on: {{ ref('int_bulk_deliveries__audited') }}
-- Personal columns stay in raw/ only: this table is stored in the marts file.
select * exclude (username, given_name, family_name, middle_name, email, sms, phone, password,
                  user_master_identifier, preferred_given_name, preferred_middle_name,
                  preferred_family_name, pronouns)
from ({{ roster_current(ref('stg_oneroster__users'), 'user_sourced_id') }}) as users
