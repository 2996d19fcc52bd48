{#-
    The customer's lists (licensed schools, district and school non-instructional days) are read from
    a JSON file when the var `customer_settings_file` names one (what Dagster passes: the lists of a
    2,000-school district do not fit on a command line), else from the vars of the same names
    (standalone runs, tests).

    File: {"licensed_schools": [id, ...], "non_instructional_days": [date, ...],
           "school_closures": [{"school_sourced_id": id, "closed_date": date}, ...],
           "period_rules": [{"school_sourced_id": id, "mode": ..., "share": ..., "minutes": ...,
                             "half_day_share": ..., "code": ..., "precedence": ...}, ...],
           "school_calendars": [{"school_year": 2027, "first_day": date, "last_day": date}, ...]}
-#}

{% macro customer_settings_relation() -%}
    read_json({{ sql_string(var('customer_settings_file')) }}, columns={
        'licensed_schools': 'VARCHAR[]',
        'non_instructional_days': 'DATE[]',
        'school_closures': 'STRUCT(school_sourced_id VARCHAR, closed_date DATE)[]',
        'period_rules': 'STRUCT(school_sourced_id VARCHAR, mode VARCHAR, share DOUBLE, minutes DOUBLE, '
                        'half_day_share DOUBLE, code VARCHAR, precedence VARCHAR)[]',
        'school_calendars': 'STRUCT(school_year INTEGER, first_day DATE, last_day DATE)[]'
    })
{%- endmacro %}


{#- A VARCHAR[] / DATE[] expression: the list `name` of the settings file or of the var. -#}
{% macro customer_list(name, element_type) -%}
    {%- if var('customer_settings_file', '') -%}
        (select {{ name }} from {{ customer_settings_relation() }})
    {%- elif element_type == 'date' -%}
        {{ date_array(var(name)) }}
    {%- else -%}
        {{ varchar_array(var(name)) }}
    {%- endif -%}
{%- endmacro %}


{#- A select of (school_sourced_id varchar, closed_date date): per-school non-instructional days. -#}
{% macro school_closures_select() -%}
    {%- if var('customer_settings_file', '') -%}
    select closure.school_sourced_id, closure.closed_date
    from (select unnest(school_closures) as closure from {{ customer_settings_relation() }})
    {%- else -%}
    {%- set school_days = var('school_non_instructional_days') -%}
    {%- if school_days | length > 0 %}
    select school_sourced_id, cast(closed_date as date) as closed_date
    from (values
        {%- for school, dates in school_days.items() %}
        {%- set outer_last = loop.last %}
        {%- for d in dates %}
        ({{ sql_string(school) }}, {{ sql_string(d) }}){{ "," if not (outer_last and loop.last) }}
        {%- endfor %}
        {%- endfor %}
    ) as closures (school_sourced_id, closed_date)
    {%- else %}
    select cast(null as varchar) as school_sourced_id, cast(null as date) as closed_date
    where false
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- A blank-able scalar var as a SQL literal of `type` (NULL when blank). -#}
{% macro _rule_literal(value, type) -%}
    {%- if value is none or (value is string and value == '') -%}cast(null as {{ type }})
    {%- elif type == 'varchar' -%}{{ sql_string(value) }}
    {%- else -%}cast({{ value | float }} as {{ type }}){%- endif -%}
{%- endmacro %}


{#-
    A select of (school_sourced_id, mode, share, minutes, half_day_share, code, precedence): the period
    rule (attendance.daily_from_periods) of every school licensed in a delivered year: its override of the settings file
    (or of the var school_period_rules) or the customer's default (vars period_rule_*).
-#}
{% macro period_rules_select() -%}
    with overrides as (
    {%- if var('customer_settings_file', '') %}
        select rule.school_sourced_id, rule.mode, rule.share, rule.minutes, rule.half_day_share, rule.code,
               rule.precedence
        from (select unnest(period_rules) as rule from {{ customer_settings_relation() }})
    {%- else -%}
    {%- set rules = var('school_period_rules', []) -%}
    {%- if rules | length > 0 %}
        select * from (values
        {%- for r in rules %}
            ({{ sql_string(r['school_sourced_id']) }}, {{ _rule_literal(r.get('mode'), 'varchar') }},
             {{ _rule_literal(r.get('share'), 'double') }}, {{ _rule_literal(r.get('minutes'), 'double') }},
             {{ _rule_literal(r.get('half_day_share'), 'double') }}, {{ _rule_literal(r.get('code'), 'varchar') }},
             {{ _rule_literal(r.get('precedence'), 'varchar') }}){{ "," if not loop.last }}
        {%- endfor %}
        ) as o (school_sourced_id, mode, share, minutes, half_day_share, code, precedence)
    {%- else %}
        select cast(null as varchar) as school_sourced_id, cast(null as varchar) as mode,
               cast(null as double) as share, cast(null as double) as minutes,
               cast(null as double) as half_day_share, cast(null as varchar) as code,
               cast(null as varchar) as precedence
        where false
    {%- endif -%}
    {%- endif %}
    )

    select
        schools.school_sourced_id,
        coalesce(overrides.mode, {{ _rule_literal(var('period_rule_mode', 'none'), 'varchar') }}, 'none') as mode,
        case when overrides.school_sourced_id is not null then overrides.share
             else {{ _rule_literal(var('period_rule_share', ''), 'double') }} end as share,
        case when overrides.school_sourced_id is not null then overrides.minutes
             else {{ _rule_literal(var('period_rule_minutes', ''), 'double') }} end as minutes,
        case when overrides.school_sourced_id is not null then overrides.half_day_share
             else {{ _rule_literal(var('period_rule_half_day_share', ''), 'double') }} end as half_day_share,
        case when overrides.school_sourced_id is not null then overrides.code
             else {{ _rule_literal(var('period_rule_code', ''), 'varchar') }} end as code,
        coalesce(overrides.precedence, {{ _rule_literal(var('period_rule_precedence', 'daily_event'), 'varchar') }},
                 'daily_event') as precedence
    from (
        select distinct school_sourced_id from {{ ref('int_schools__flagged_by_license') }}
        where is_licensed
    ) as schools
    left join overrides on overrides.school_sourced_id = schools.school_sourced_id
{%- endmacro %}


{#- A select of (school_year integer, first_day date, last_day date): the per-year calendars of the
    config (school_years: first and last school day, inclusive), from the settings file or the var
    school_calendars (standalone runs). -#}
{% macro school_calendars_select() -%}
    {%- if var('customer_settings_file', '') -%}
    select calendar.school_year, calendar.first_day, calendar.last_day
    from (select unnest(school_calendars) as calendar from {{ customer_settings_relation() }})
    {%- else -%}
    {%- set calendars = var('school_calendars', []) -%}
    {%- if calendars | length > 0 %}
    select cast(school_year as integer) as school_year, cast(first_day as date) as first_day,
           cast(last_day as date) as last_day
    from (values
        {%- for c in calendars %}
        ({{ c['school_year'] | int }}, {{ sql_string(c['first_day']) }}, {{ sql_string(c['last_day']) }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as calendars (school_year, first_day, last_day)
    {%- else %}
    select cast(null as integer) as school_year, cast(null as date) as first_day, cast(null as date) as last_day
    where false
    {%- endif -%}
    {%- endif %}
{%- endmacro %}
