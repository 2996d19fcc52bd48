-- Blocking guard: the latest bulk of an entity may not delete more than mass_deletion_fraction of
-- the records active just before it AND at least mass_deletion_min_records of them (a school-scoped
-- bulk replacing 2 of 2 events passes), unless the run sets force_mass_deletion: true.
-- Failing rows carry counts only (no record values). When the guard trips it also logs one line per
-- entity with the counts and how to force the build (run stdout / compute logs of the marts run).
{{ config(severity='error') }}

{% set violations_sql %}
select entity, cast(delivery_date as varchar), would_delete, active_before
from {{ ref('int_bulk_deliveries__audited') }}
where active_before > 0
  and would_delete > {{ var('mass_deletion_fraction') | float }} * active_before
  and would_delete >= {{ var('mass_deletion_min_records', 5) | int }}
order by entity
{% endset %}

{#- compiled without a build (dbt docs generate, dbt compile) the audit table may not exist yet -#}
{% if execute and not bool_var('force_mass_deletion')
      and load_relation(ref('int_bulk_deliveries__audited')) is not none %}
    {% set found = run_query(violations_sql) %}
    {% if found.rows | length > 0 %}
        {% set lines = [] %}
        {% for row in found.rows %}
            {% do lines.append(row[0] ~ " (bulk of " ~ row[1] ~ "): would_delete=" ~ row[2]
                               ~ " of active_before=" ~ row[3]) %}
        {% endfor %}
        {% do log("Mass deletion blocked (assert_no_mass_deletion): a bulk delivery would remove more than "
                   ~ (var('mass_deletion_fraction') | float * 100) | round(1) ~ "% (and at least "
                   ~ var('mass_deletion_min_records', 5) ~ ") of the active records of "
                   ~ (lines | join("; "))
                   ~ ". The published marts are not replaced. If the deletion is real, re-run build_marts for"
                   ~ " this customer with run config ops: customer_marts: config: force_mass_deletion: true"
                   ~ " (docs/operations.md, Mass deletion).", info=True) %}
    {% endif %}
{% endif %}

select
    entity,
    delivery_date,
    would_delete,
    active_before
from {{ ref('int_bulk_deliveries__audited') }}
where not {{ bool_var('force_mass_deletion') }}
  and active_before > 0
  and would_delete > {{ var('mass_deletion_fraction') | float }} * active_before
  and would_delete >= {{ var('mass_deletion_min_records', 5) | int }}
