{% test value_between(model, column_name, min_value, max_value) %}
select {{ column_name }} as out_of_range_value
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}
