-- Attendance events of each school year (int_attendance_events__merged_by_year) with their absence code
-- resolved against the codes of the same year.
-- The event's absenceCode matches a code's title or sourcedId; only codes of the event's school or
-- district-wide codes (blank schoolSourcedId) apply. A school-specific code wins over a
-- district-wide one; within the same scope a sourcedId match wins over a title match.
with events as (
    select * from {{ ref('int_attendance_events__merged_by_year') }}
),

codes as (
    select * from {{ ref('int_absence_codes__merged_by_year') }}
),

code_keys as (
    select absence_code_sourced_id as match_key, 0 as match_rank, * from codes
    union all
    select title as match_key, 1 as match_rank, * from codes where title is not null
),

candidates as (
    select
        events.school_year,
        events.user_sourced_id,
        events.school_sourced_id,
        coalesce(events.class_sourced_id, '') as class_key,
        events.attendance_date,
        code_keys.absence_code_sourced_id,
        code_keys.title as code_title,
        code_keys.is_absent as code_is_absent,
        code_keys.is_excused as code_is_excused,
        code_keys.category as code_category,
        code_keys.day_fraction as code_day_fraction,
        code_keys.school_sourced_id is not null as is_school_specific_code,
        row_number() over (
            partition by events.user_sourced_id, events.school_sourced_id,
                coalesce(events.class_sourced_id, ''), events.attendance_date
            order by
                case when code_keys.school_sourced_id is not null then 0 else 1 end,
                code_keys.match_rank,
                code_keys.absence_code_sourced_id
        ) as code_rank
    from events
    inner join code_keys
        on events.absence_code = code_keys.match_key
       and events.school_year = code_keys.school_year
       and (code_keys.school_sourced_id is null or code_keys.school_sourced_id = events.school_sourced_id)
),

resolved as (
    select * exclude (code_rank) from candidates where code_rank = 1
),

categories as (
    select * from {{ ref('absence_code_categories') }}
)

select
    events.school_year,
    events.attendance_sourced_id,
    events.user_sourced_id as student_sourced_id,
    events.school_sourced_id,
    events.class_sourced_id,
    events.attendance_date,
    events.period,
    events.minutes_absent,
    events.absence_code as absence_code_sent,
    resolved.absence_code_sourced_id,
    coalesce(resolved.code_title, events.absence_code) as absence_code,
    resolved.code_category,
    resolved.absence_code_sourced_id is not null as is_code_resolved,
    coalesce(resolved.is_school_specific_code, false) as is_school_specific_code,
    coalesce(resolved.code_is_absent, false) as is_absent_code,
    case
        when coalesce(resolved.code_is_absent, false)
            then least(greatest(coalesce(resolved.code_day_fraction, 1.0), 0.0), 1.0)
        else 0.0
    end as absent_fraction,
    coalesce(resolved.code_is_absent, false) and coalesce(resolved.code_is_excused, false) as is_excused,
    coalesce(categories.counts_as_tardy, false) as is_tardy,
    events._delivery_date
from events
left join resolved
    on events.school_year = resolved.school_year
   and events.user_sourced_id = resolved.user_sourced_id
   and events.school_sourced_id = resolved.school_sourced_id
   and coalesce(events.class_sourced_id, '') = resolved.class_key
   and events.attendance_date = resolved.attendance_date
left join categories
    on resolved.code_category = categories.category
