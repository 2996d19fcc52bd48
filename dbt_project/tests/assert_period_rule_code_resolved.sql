-- Blocking: a school derives daily attendance from period events (attendance.daily_from_periods) but
-- the rule's code is none of the absence codes (title or sourcedId, district-wide or the school's)
-- with absent = true, so excused/unexcused would not resolve. Fix the code in the customer's config
-- or send the code in absenceCodes.csv.
{{ config(severity='error') }}

select school_sourced_id, count(*) as derived_absent_days
from {{ ref('int_daily_attendance__derived_from_periods') }}
where absent_fraction > 0 and not is_code_resolved
group by school_sourced_id
