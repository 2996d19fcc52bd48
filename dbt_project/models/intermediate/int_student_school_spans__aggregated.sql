-- Non-overlapping enrollment spans per school year, student and school, [span_begin, span_end) with
-- span_end exclusive, merged from the year's active student enrollments in any class of the school
-- (int_enrollments__merged_by_year: a later year's roster never changes an earlier year's spans).
-- Blank begin/end dates are open (1900-01-01 / 9999-12-31).
with enrollments as (
    select
        school_year,
        user_sourced_id as student_sourced_id,
        school_sourced_id,
        coalesce(begin_date, date '1900-01-01') as span_begin,
        coalesce(
            {% if bool_var('enrollment_end_inclusive') %}cast(end_date + 1 as date){% else %}end_date{% endif %},
            date '9999-12-31'
        ) as span_end
    from {{ ref('int_enrollments__merged_by_year') }}
    where role = 'student'
      and user_sourced_id is not null
      and school_sourced_id is not null
),

-- distinct rows make (span_begin, span_end) a total order within a student and school, so both
-- window passes below see the rows in the same order
valid as (
    select distinct school_year, student_sourced_id, school_sourced_id, span_begin, span_end
    from enrollments
    where span_end > span_begin
),

ordered as (
    select
        *,
        max(span_end) over (
            partition by school_year, student_sourced_id, school_sourced_id
            order by span_begin, span_end
            rows between unbounded preceding and 1 preceding
        ) as previous_max_end
    from valid
),

islands as (
    select
        *,
        sum(case when previous_max_end is null or span_begin > previous_max_end then 1 else 0 end) over (
            partition by school_year, student_sourced_id, school_sourced_id
            order by span_begin, span_end
            rows between unbounded preceding and current row
        ) as island_id
    from ordered
)

select
    school_year,
    student_sourced_id,
    school_sourced_id,
    min(span_begin) as span_begin,
    max(span_end) as span_end
from islands
group by school_year, student_sourced_id, school_sourced_id, island_id
