{#-
    The customer's lists (licensed schools, district and school non-instructional days) are read from
    a JSON file when the var `customer_settings_file` names one (what Dagster passes: the lists of a
    2,000-school district do not fit on a command line), else from the vars of the same names
    (standalone runs, tests).

    File: {"licensed_schools": [id, ...], "non_instructional_days": [date, ...],
           "school_closures": [{"school_sourced_id": id, "closed_date": date}, ...]}
-#}

{% macro customer_settings_relation() -%}
    read_json({{ sql_string(var('customer_settings_file')) }}, columns={
        'licensed_schools': 'VARCHAR[]',
        'non_instructional_days': 'DATE[]',
        'school_closures': 'STRUCT(school_sourced_id VARCHAR, closed_date DATE)[]'
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
