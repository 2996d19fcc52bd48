{#-
    Raw Parquet access for the staging layer.

    oneroster_contract_columns(entity) -> [(column, duckdb_type), ...] read from
    contract/oneroster_columns.csv (generated from kinvolved_assets/oneroster/spec.py).

    oneroster_source(entity) -> a typed select over every delivery partition of the entity
    (all contract columns, in contract order, original OneRoster names, then "_delivery_seq": the
    delivery's arrival sequence from its partition folder delivery_date=<D>/seq=<N>, 0 for a
    partition written without one; deliveries apply in (date, seq) order). When the entity has no
    Parquet at all (e.g. demographics never delivered) it emits a typed empty select instead, so
    downstream models always compile and see the same columns and types.
-#}

{#- The project root: the seed nodes of this project carry it (root_path) in the graph. -#}
{% macro project_root() -%}
    {%- set override = env_var('KINVOLVED_DBT_PROJECT_DIR', '') -%}
    {%- if override -%}
        {{- return(override) -}}
    {%- endif -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'seed' and node.package_name == project_name and node.root_path -%}
            {{- return(node.root_path) -}}
        {%- endif -%}
    {%- endfor -%}
    {{- return('.') -}}
{%- endmacro %}


{% macro contract_csv_path() -%}
    {{- return(project_root() ~ '/contract/oneroster_columns.csv') -}}
{%- endmacro %}


{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}


{% macro oneroster_contract_columns(entity) %}
    {% if not execute %}
        {{ return([]) }}
    {% endif %}
    {% set query %}
        select "column", duckdb_type
        from read_csv({{ sql_string(contract_csv_path()) }}, header = true, all_varchar = true)
        where entity = {{ sql_string(entity) }}
        order by cast(ordinal as integer)
    {% endset %}
    {% set result = run_query(query) %}
    {% set columns = [] %}
    {% for row in result.rows %}
        {% do columns.append((row[0], row[1])) %}
    {% endfor %}
    {% if columns | length == 0 %}
        {{ exceptions.raise_compiler_error("no contract columns for entity '" ~ entity ~ "' in " ~ contract_csv_path()) }}
    {% endif %}
    {{ return(columns) }}
{% endmacro %}


{% macro raw_glob(entity) -%}
    {%- set root = var('raw_root') | string -%}
    {%- set root = root[:-1] if root.endswith('/') else root -%}
    {%- if entity == '_files' -%}
        {{- return(root ~ '/_files/*/delivery_date=*/**/*.parquet') -}}
    {%- else -%}
        {{- return(root ~ '/' ~ entity ~ '/delivery_date=*/**/*.parquet') -}}
    {%- endif -%}
{%- endmacro %}


{% macro oneroster_source(entity) %}
    {#- register lineage to the raw source(s); _files is written alongside every entity -#}
    {%- if entity == '_files' -%}
        {%- for table in ['orgs', 'academic_sessions', 'courses', 'classes', 'users', 'roles', 'user_profiles',
                          'enrollments', 'demographics', 'absence_codes', 'attendance'] -%}
            {%- set _lineage = source('oneroster', table) -%}
        {%- endfor -%}
    {%- else -%}
        {%- set _lineage = source('oneroster', entity) -%}
    {%- endif -%}
    {%- if not execute -%}
        select null as _not_compiled where false
    {%- else -%}
        {%- set columns = oneroster_contract_columns(entity) -%}
        {%- set pattern = raw_glob(entity) -%}
        {%- set count_result = run_query("select count(*) from glob(" ~ sql_string(pattern) ~ ")") -%}
        {%- set file_count = count_result.rows[0][0] -%}
        {%- set present = [] -%}
        {%- if file_count > 0 -%}
            {%- set described = run_query(
                "describe select * from read_parquet(" ~ sql_string(pattern)
                ~ ", union_by_name = true, hive_partitioning = false)") -%}
            {%- for row in described.rows -%}
                {%- do present.append(row[0]) -%}
            {%- endfor -%}
        {%- endif -%}
        select
        {%- for name, duckdb_type in columns %}
            {% if name in present -%}
                cast("{{ name }}" as {{ duckdb_type }})
            {%- else -%}
                cast(null as {{ duckdb_type }})
            {%- endif %} as "{{ name }}",
        {%- endfor %}
            {% if file_count > 0 -%}
                coalesce(try_cast(regexp_extract(filename, '/seq=([0-9]+)/[^/]*$', 1) as integer), 0)
            {%- else -%}
                cast(0 as integer)
            {%- endif %} as "_delivery_seq"
        {% if file_count > 0 -%}
        from read_parquet({{ sql_string(pattern) }}, union_by_name = true, hive_partitioning = false,
                          filename = true)
        {%- else -%}
        where false  -- no Parquet delivered for {{ entity }}: typed empty relation
        {%- endif %}
    {%- endif -%}
{% endmacro %}


{#- A DATE[] literal from a list of ISO date strings. -#}
{% macro date_array(values) -%}
    {%- if values is string -%}{%- set values = [values] -%}{%- endif -%}
    {%- if values | length == 0 -%}
        cast([] as date[])
    {%- else -%}
        [{% for v in values %}date {{ sql_string(v) }}{{ ", " if not loop.last }}{% endfor %}]
    {%- endif -%}
{%- endmacro %}


{#- A VARCHAR[] literal. -#}
{% macro varchar_array(values) -%}
    {%- if values is string -%}{%- set values = [values] -%}{%- endif -%}
    {%- if values | length == 0 -%}
        cast([] as varchar[])
    {%- else -%}
        [{% for v in values %}{{ sql_string(v) }}{{ ", " if not loop.last }}{% endfor %}]
    {%- endif -%}
{%- endmacro %}


{#- A boolean var that may arrive as a bool or a string ("true"/"false"). -#}
{% macro bool_var(name, default=false) -%}
    {%- set value = var(name, default) -%}
    {%- if value is string -%}
        {%- set value = value | lower in ['true', '1', 'yes', 'y'] -%}
    {%- endif -%}
    {{- return(true if value else false) -}}
{%- endmacro %}
