with source as (
    {{ oneroster_source('demographics') }}
)

select
    "sourcedId"                             as user_sourced_id,
    "status"                                as status,
    "dateLastModified"                      as date_last_modified,
    "birthDate"                             as birth_date,
    "sex"                                   as sex,
    "americanIndianOrAlaskaNative"          as is_american_indian_or_alaska_native,
    "asian"                                 as is_asian,
    "blackOrAfricanAmerican"                as is_black_or_african_american,
    "nativeHawaiianOrOtherPacificIslander"  as is_native_hawaiian_or_other_pacific_islander,
    "white"                                 as is_white,
    "demographicRaceTwoOrMoreRaces"         as is_two_or_more_races,
    "hispanicOrLatinoEthnicity"             as is_hispanic_or_latino,
    "countryOfBirthCode"                    as country_of_birth_code,
    "stateOfBirthAbbreviation"              as state_of_birth_abbreviation,
    "cityOfBirth"                           as city_of_birth,
    "publicSchoolResidenceStatus"           as public_school_residence_status,
    "_delivery_date"                        as _delivery_date,
    "_delivery_seq"                       as _delivery_seq,
    "_mode"                                 as _mode,
    "_line"                                 as _line,
    "_file"                                 as _file
from source
