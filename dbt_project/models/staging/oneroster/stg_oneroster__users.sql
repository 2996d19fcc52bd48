with source as (
    {{ oneroster_source('users') }}
)

select
    "sourcedId"         as user_sourced_id,
    "status"            as status,
    "dateLastModified"  as date_last_modified,
    "enabledUser"       as is_enabled_user,
    "orgSourcedIds"     as org_sourced_ids,
    "role"              as role,
    "username"          as username,
    "userIds"           as user_ids,
    "givenName"         as given_name,
    "familyName"        as family_name,
    "middleName"        as middle_name,
    "identifier"        as identifier,
    "email"             as email,
    "sms"               as sms,
    "phone"             as phone,
    "agentSourcedIds"   as agent_sourced_ids,
    "grades"            as grades,
    "password"          as password,
    "userMasterIdentifier" as user_master_identifier,
    "preferredGivenName"   as preferred_given_name,
    "preferredMiddleName"  as preferred_middle_name,
    "preferredFamilyName"  as preferred_family_name,
    "primaryOrgSourcedId"  as primary_org_sourced_id,
    "pronouns"             as pronouns,
    "_delivery_date"    as _delivery_date,
    "_delivery_seq"   as _delivery_seq,
    "_mode"             as _mode,
    "_line"             as _line,
    "_file"             as _file
from source
