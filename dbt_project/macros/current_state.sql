{#-
    Current state from all deliveries, applied in (delivery date, arrival sequence) order
    (docs/attendance-rules.md): two deliveries of one date apply in the order they arrived.

    Roster entities (scope of a bulk = the whole entity):
      the latest effective bulk (a bulk delivery with at least one accepted row) replaces the
      state; later deltas upsert; status tobedeleted deletes. The surviving version of a record
      is the latest by (_delivery_date, _delivery_seq, delta after bulk, date_last_modified, _line).
      An empty bulk has no rows in raw, so it is never the effective bulk: it deletes nothing.

    `before` (optional SQL expression, a delivery_key): only deliveries strictly before that
    delivery are applied, i.e. the state as it was just before it (used by the mass-deletion audit).
-#}

{#- One number ordering deliveries as (date, seq): yyyymmdd * 10^9 + seq. Arithmetic, not
    strftime: it is computed for every staged row, several times per model (formatting the date as a
    string cost ~5x as much on 4 million enrollments). -#}
{% macro delivery_key(date_column='_delivery_date', seq_column='_delivery_seq') -%}
    ((year({{ date_column }}) * 10000 + month({{ date_column }}) * 100 + day({{ date_column }}))::bigint
        * 1000000000 + coalesce({{ seq_column }}, 0))
{%- endmacro %}


{% macro delivery_order(date_last_modified='date_last_modified') -%}
    _delivery_date desc,
    _delivery_seq desc,
    case when _mode = 'delta' then 1 else 0 end desc,
    {{ date_last_modified }} desc nulls last,
    _line desc
{%- endmacro %}


{% macro roster_current_state(relation, key, before=none) %}
    with deliveries as (
        select *
        from {{ relation }}
        {% if before is not none %}where {{ delivery_key() }} < {{ before }}{% endif %}
    ),

    latest_bulk as (
        select max({{ delivery_key() }}) as bulk_key
        from deliveries
        where _mode = 'bulk'
    ),

    applicable as (
        select deliveries.*
        from deliveries
        cross join latest_bulk
        where latest_bulk.bulk_key is null
           or {{ delivery_key('deliveries._delivery_date', 'deliveries._delivery_seq') }} >= latest_bulk.bulk_key
    ),

    ranked as (
        select
            *,
            row_number() over (partition by {{ key }} order by {{ delivery_order() }}) as _version_rank
        from applicable
    )

    select * exclude (_version_rank, status)
    from ranked
    where _version_rank = 1
      and coalesce(status, 'active') = 'active'
{% endmacro %}


{#-
    Attendance (natural key: student, school, class-or-blank, date).
    An effective bulk (mode bulk, rows > 0 with min_date/max_date in _files, and at least one
    accepted row in raw) replaces only the events dated inside its [min_date, max_date] at the
    schools it covers (schools with at least one row in the file): a school-by-school export never
    wipes the other schools. Events outside that scope stay. Deltas upsert by natural key;
    tobedeleted removes.
-#}
{% macro attendance_effective_bulks(events_relation, files_relation, before=none) %}
    select
        files.delivery_date,
        files.delivery_seq,
        {{ delivery_key('files.delivery_date', 'files.delivery_seq') }} as delivery_key,
        files.min_date,
        files.max_date
    from {{ files_relation }} as files
    where files.entity = 'attendance'
      and files.mode = 'bulk'
      and coalesce(files.row_count, 0) > 0
      and files.min_date is not null
      and files.max_date is not null
      {% if before is not none %}and {{ delivery_key('files.delivery_date', 'files.delivery_seq') }} < {{ before }}{% endif %}
      and exists (
          select 1
          from {{ events_relation }} as events
          where events._delivery_date = files.delivery_date
            and events._delivery_seq = files.delivery_seq
            and events._mode = 'bulk'
      )
{% endmacro %}


{% macro attendance_current_state(events_relation, files_relation, before=none) %}
    with events as (
        select
            *,
            coalesce(class_sourced_id, '') as _class_key
        from {{ events_relation }}
        {% if before is not none %}where {{ delivery_key() }} < {{ before }}{% endif %}
    ),

    bulks as (
        {{ attendance_effective_bulks(events_relation, files_relation, before) }}
    ),

    bulk_schools as (
        select distinct _delivery_date as delivery_date, _delivery_seq as delivery_seq, school_sourced_id
        from events
        where _mode = 'bulk'
    ),

    event_scopes as (
        select distinct attendance_date, school_sourced_id from events
    ),

    -- the latest effective bulk whose scope (date range x schools) covers each school-day
    scope_cover as (
        select
            event_scopes.attendance_date,
            event_scopes.school_sourced_id,
            max(bulks.delivery_key) as covered_by
        from event_scopes
        inner join bulks
            on event_scopes.attendance_date between bulks.min_date and bulks.max_date
        inner join bulk_schools
            on bulk_schools.delivery_date = bulks.delivery_date
           and bulk_schools.delivery_seq = bulks.delivery_seq
           and bulk_schools.school_sourced_id = event_scopes.school_sourced_id
        group by 1, 2
    ),

    surviving as (
        select events.*
        from events
        left join scope_cover
            on events.attendance_date = scope_cover.attendance_date
           and events.school_sourced_id = scope_cover.school_sourced_id
        where scope_cover.covered_by is null
           or {{ delivery_key('events._delivery_date', 'events._delivery_seq') }} >= scope_cover.covered_by
    ),

    ranked as (
        select
            *,
            row_number() over (
                partition by user_sourced_id, school_sourced_id, _class_key, attendance_date
                order by {{ delivery_order() }}
            ) as _version_rank
        from surviving
    )

    select * exclude (_version_rank, _class_key, status)
    from ranked
    where _version_rank = 1
      and coalesce(status, 'active') = 'active'
{% endmacro %}


{#- One audit row for the latest effective bulk of a roster entity (none when it never had one, or
    when it is the first bulk of its school year: last year's roster is no measure of this year's). -#}
{% macro roster_deletion_audit(entity, relation, key) %}
    {%- set bulk_key = "(select max(" ~ delivery_key() ~ ") from " ~ relation ~ " where _mode = 'bulk')" -%}
    select
        '{{ entity }}' as entity,
        bulk.bulk_date as delivery_date,
        counted.would_delete,
        counted.active_before
    from (select {{ bulk_key }} as bulk_key,
                 (select max(_delivery_date) from {{ relation }} where _mode = 'bulk') as bulk_date) as bulk
    -- the state just before the bulk, computed once for both counts
    cross join (
        select
            count(*) filter (where before_state.{{ key }} not in (
                select b.{{ key }}
                from {{ relation }} as b
                where {{ delivery_key('b._delivery_date', 'b._delivery_seq') }} = {{ bulk_key }}
                  and b._mode = 'bulk'
                  and coalesce(b.status, 'active') = 'active'
                  and b.{{ key }} is not null
            )) as would_delete,
            count(*) as active_before
        from ({{ roster_current_state(relation, key, bulk_key) }}) as before_state
    ) as counted
    where bulk.bulk_key is not null
      -- the first bulk of a school year (1 July - 30 June) starts that year's roster (rollover: the
      -- rosters change wholesale): it is audited only against an earlier bulk of the same year
      -- (a same-day earlier bulk included: the order is (date, seq))
      and exists (
          select 1
          from {{ relation }} as earlier
          where earlier._mode = 'bulk'
            and {{ delivery_key('earlier._delivery_date', 'earlier._delivery_seq') }} < bulk.bulk_key
            and earlier._delivery_date >= make_date(
                year(bulk.bulk_date) - case when month(bulk.bulk_date) >= 7 then 0 else 1 end, 7, 1)
      )
{% endmacro %}


{% macro attendance_deletion_audit(events_relation, files_relation) %}
    {%- set latest = "(select max(delivery_key) from (" ~ attendance_effective_bulks(events_relation, files_relation) ~ "))" -%}
    with latest_bulk as (
        select delivery_date, delivery_seq, min_date, max_date
        from ({{ attendance_effective_bulks(events_relation, files_relation) }})
        where delivery_key = {{ latest }}
        limit 1
    ),

    before_state as (
        select
            user_sourced_id,
            school_sourced_id,
            coalesce(class_sourced_id, '') as class_key,
            attendance_date
        from ({{ attendance_current_state(events_relation, files_relation, latest) }})
        where attendance_date between (select min_date from latest_bulk) and (select max_date from latest_bulk)
          -- a bulk replaces nothing of a past school year (macros/school_years.sql, attendance_state_of_year)
          and attendance_date >= (select make_date(year(delivery_date) - case when month(delivery_date) >= 7
                                                                          then 0 else 1 end, 7, 1) from latest_bulk)
          and school_sourced_id in (
              select school_sourced_id from {{ events_relation }}
              where _delivery_date = (select delivery_date from latest_bulk)
                and _delivery_seq = (select delivery_seq from latest_bulk) and _mode = 'bulk'
          )
    ),

    in_bulk as (
        select distinct
            user_sourced_id,
            school_sourced_id,
            coalesce(class_sourced_id, '') as class_key,
            attendance_date
        from {{ events_relation }}
        where _delivery_date = (select delivery_date from latest_bulk)
          and _delivery_seq = (select delivery_seq from latest_bulk)
          and _mode = 'bulk'
          and coalesce(status, 'active') = 'active'
    )

    select
        'attendance' as entity,
        latest_bulk.delivery_date,
        (
            select count(*)
            from before_state
            anti join in_bulk using (user_sourced_id, school_sourced_id, class_key, attendance_date)
        ) as would_delete,
        (select count(*) from before_state) as active_before
    from latest_bulk
{% endmacro %}
