"""Small OneRoster+ deliveries built in code for the reader tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

PII_MARK = "Zyxwvqpii"   # appears only in personal-data columns; must never reach a finding

VALID: dict[str, str] = {
    "orgs.csv": (
        "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
        "d1,,,Demo District,district,D1,\n"
        "s1,,,Demo High,school,S1,d1\n"
    ),
    "academicSessions.csv": (
        "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear\n"
        "y1,,,2023-2024,schoolYear,2023-08-01,2024-06-30,,2024\n"
        "t1,,,Fall,term,2023-08-01,2023-12-22,y1,2024\n"
    ),
    "courses.csv": (
        "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes\n"
        'c1,,,y1,Algebra,ALG1,"09,10",d1,Math,\n'
    ),
    "classes.csv": (
        "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,"
        "termSourcedIds,subjects,subjectCodes,periods\n"
        'k1,,,Algebra P1,09,c1,ALG1-1,scheduled,Room 1,s1,t1,Math,,"1,2"\n'
        "k2,,,Homeroom,09,c1,HR,homeroom,,s1,t1,,,\n"
    ),
    "users.csv": (
        "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
        "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
        f"u1,,,true,s1,student,{PII_MARK}.user,,{PII_MARK}Given,{PII_MARK}Family,,1001,{PII_MARK}@x.org,,,,09,\n"
        f"u2,,,true,s1,teacher,{PII_MARK}.teach,,{PII_MARK}G,{PII_MARK}F,,2001,,,,,,\n"
    ),
    "enrollments.csv": (
        "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n"
        "e1,,,k1,s1,u1,student,false,2023-08-01,2024-06-30\n"
        "e2,,,k1,s1,u2,teacher,true,,\n"
    ),
    "demographics.csv": (
        "sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,"
        "nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,"
        "countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus\n"
        f"u1,,,2009-04-02,female,false,false,false,false,true,false,false,US,NY,{PII_MARK}City,\n"
    ),
    "absenceCodes.csv": (
        "sourcedId,status,dateLastModified,title,absent,excused,description,schoolSourcedId,category,dayFraction\n"
        "ac1,,,AE,true,true,Absent excused,,excused_absence,\n"
        "ac2,,,T,false,false,Tardy,,tardy,\n"
        "ac3,,,HD,true,false,Half day,s1,partial,0.5\n"
    ),
    "attendance.csv": (
        "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,date,absenceCode,period,"
        "minutesAbsent,comment\n"
        f"a1,,,,s1,u1,2024-03-01,AE,,,{PII_MARK} called\n"
        "a2,,,k1,s1,u1,2024-03-04,T,1,10,\n"
        "a3,,,,s1,u1,2024-03-05,ac3,,,\n"
    ),
}


def write_delivery(root: Path, files: dict[str, str | bytes | None], *, base: dict | None = None,
               as_zip: bool = False, top_folder: str | None = None, name: str = "delivery") -> Path:
    """Write ``base`` (default VALID) updated with ``files`` (None removes a file) as a folder or ZIP."""
    content = dict(VALID if base is None else base)
    for k, v in files.items():
        if v is None:
            content.pop(k, None)
        else:
            content[k] = v
    if as_zip:
        path = root / f"{name}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for k, v in content.items():
                arc = f"{top_folder}/{k}" if top_folder else k
                zf.writestr(arc, v if isinstance(v, bytes) else v.encode("utf-8"))
        return path
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for k, v in content.items():
        p = folder / k
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(v if isinstance(v, bytes) else v.encode("utf-8"))
    return folder


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def quote_all(text: str) -> str:
    out = []
    for line in text.splitlines():
        import csv
        import io
        row = next(csv.reader(io.StringIO(line)))
        out.append(",".join('"' + c.replace('"', '""') + '"' for c in row))
    return "\n".join(out) + "\n"


# The same district as a OneRoster 1.2 export: users.csv without role/orgSourcedIds (1.2 columns
# instead, personal ones marked), roles.csv, a userProfiles.csv and a 1.2 manifest.
USERS_12_HEAD = ("sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,"
                 "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,"
                 "resourceSourcedIds,"
                 "preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns")
ROLES_HEAD = ("sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,"
              "userProfileSourcedId")
VALID_12: dict[str, str] = {
    **VALID,
    "manifest.csv": "propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\n",
    "users.csv": (
        USERS_12_HEAD + "\n"
        f"u1,,,true,{PII_MARK}.user,,{PII_MARK}Given,{PII_MARK}Family,,1001,{PII_MARK}@x.org,,,,09,,"
        f"{PII_MARK}M1,,{PII_MARK}Pref,,,s1,{PII_MARK}they\n"
        f"u2,,,true,{PII_MARK}.teach,,{PII_MARK}G,{PII_MARK}F,,2001,,,,,,,,,,,,s1,\n"
    ),
    "roles.csv": (
        ROLES_HEAD + "\n"
        "r1,,,u1,primary,student,2023-08-01,,s1,p1\n"
        "r2,,,u2,primary,teacher,,,s1,\n"
        "r3,,,u2,secondary,counselor,,,d1,\n"
    ),
    "userProfiles.csv": (
        "sourcedId,status,dateLastModified,userSourcedId,profileType,vendorId,applicationId,description,"
        "credentialType,username,password\n"
        f"p1,,,u1,lms,v1,,,password,{PII_MARK}.lms,{PII_MARK}secret\n"
    ),
}


def roles_plus(*rows: str) -> str:
    return VALID_12["roles.csv"] + "".join(r + "\n" for r in rows)
