-- Current users (int_users__upserted: latest bulk replaces everything, later deltas upsert,
-- tobedeleted deletes; no personal columns) with their effective role and orgs.
--
-- Effective role and orgs (docs/oneroster-plus.md, "Roles"): a user whose surviving version came
-- from a OneRoster 1.1 users.csv keeps its own role and orgSourcedIds. A 1.2 version has neither;
-- they come from the user's current roles (roles.csv), ranked: primary before secondary, a
-- vocabulary role before an ext: one, the latest beginDate (blank last), then the lowest role
-- sourcedId. The first role is the user's role; org_sourced_ids lists the orgs of all its current
-- roles in that order, each once. An ext: role stays as sent (never a known role) unless the var
-- role_extensions maps it to one (e.g. {"ext:pupil": "student"}).
{%- set extensions = var('role_extensions', {}) %}

with users as (
    select * from {{ ref('int_users__upserted') }}
),

roles as (
    select
        user_sourced_id,
        org_sourced_id,
        {% if extensions -%}
        case role
            {%- for ext, known in extensions.items() %}
            when {{ sql_string(ext) }} then {{ sql_string(known) }}
            {%- endfor %}
            else role
        end
        {%- else -%}
        role
        {%- endif %} as role,
        role_type,
        begin_date,
        role_sourced_id
    from {{ ref('int_roles__merged') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by user_sourced_id
            order by
                case when role_type = 'primary' then 0 else 1 end,
                case when role like 'ext:%' then 1 else 0 end,
                begin_date desc nulls last,
                role_sourced_id
        ) as role_rank
    from roles
),

user_orgs as (
    select user_sourced_id, org_sourced_id, min(role_rank) as org_rank
    from ranked
    where org_sourced_id is not null
    group by 1, 2
),

org_lists as (
    select user_sourced_id, list(org_sourced_id order by org_rank, org_sourced_id) as org_sourced_ids
    from user_orgs
    group by 1
),

effective as (
    select ranked.user_sourced_id, ranked.role, org_lists.org_sourced_ids
    from ranked
    left join org_lists
        on org_lists.user_sourced_id = ranked.user_sourced_id
    where ranked.role_rank = 1
)

select
    users.* replace (
        coalesce(users.role, effective.role) as role,
        coalesce(users.org_sourced_ids, effective.org_sourced_ids) as org_sourced_ids
    )
from users
left join effective
    on effective.user_sourced_id = users.user_sourced_id
