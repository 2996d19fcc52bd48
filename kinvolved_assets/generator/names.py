"""The name tables of the simulated district: given and family names, school places, cities, states,
area codes, grade labels, comment prefixes and subject names (all invented or generic)."""

from __future__ import annotations

from kinvolved_assets.generator.district_tables import ELEMENTARY_SUBJECTS, SECONDARY_SUBJECTS

FIRST_NAMES = (
    "Aaliyah", "Aiden", "Amara", "Andre", "Angela", "Ava", "Benjamin", "Bianca", "Brandon", "Camila",
    "Carlos", "Chloe", "Daniel", "Deja", "Diego", "Elena", "Elijah", "Emily", "Ethan", "Fatima",
    "Gabriel", "Grace", "Hannah", "Hector", "Imani", "Isaiah", "Isabella", "Jada", "Jamal", "Jasmine",
    "Jayden", "Jessica", "Jose", "Joshua", "Julia", "Kevin", "Kiara", "Layla", "Liam", "Lucas",
    "Luis", "Madison", "Malik", "Maria", "Mason", "Maya", "Mia", "Michael", "Nadia", "Naomi",
    "Nathan", "Noah", "Olivia", "Omar", "Priya", "Rafael", "Riley", "Rosa", "Ryan", "Samuel",
    "Sara", "Sofia", "Tariq", "Tiana", "Tyler", "Valeria", "Victor", "William", "Xavier", "Yusuf",
    "Zoe", "Zion",
)
ADULT_FIRST_NAMES = (
    "Adriana", "Alicia", "Anthony", "Beatriz", "Carmen", "Charles", "Christopher", "Denise", "Derrick",
    "Dolores", "Donna", "Eduardo", "Francisco", "Gloria", "Gregory", "Ibrahim", "Jennifer", "Jorge",
    "Karen", "Keisha", "Kimberly", "LaToya", "Linda", "Marcus", "Margaret", "Mohammed", "Monique",
    "Patricia", "Raymond", "Ricardo", "Robert", "Sandra", "Shanice", "Stephanie", "Terrence", "Thomas",
    "Veronica", "Wei", "Yolanda", "Yvette",
)
LAST_NAMES = (
    "Abdullah", "Acevedo", "Adams", "Alvarez", "Baker", "Banks", "Brown", "Campbell", "Castillo", "Chen",
    "Clarke", "Cruz", "Davis", "Diaz", "Edwards", "Evans", "Fernandez", "Fleming", "Garcia", "Gomez",
    "Green", "Gupta", "Harris", "Hernandez", "Hill", "Jackson", "James", "Johnson", "Kim", "King",
    "Lee", "Lewis", "Lopez", "Martin", "Martinez", "Mendoza", "Miller", "Mitchell", "Moore", "Morales",
    "Nguyen", "Okafor", "Ortiz", "Patel", "Perez", "Phillips", "Ramirez", "Reyes", "Rivera", "Robinson",
    "Rodriguez", "Sanchez", "Santos", "Scott", "Singh", "Smith", "Taylor", "Thomas", "Thompson", "Torres",
    "Vasquez", "Walker", "Washington", "Williams", "Wilson", "Wright", "Young", "Zhang",
)
PLACES = (
    "Washington", "Lincoln", "Roosevelt", "Jefferson", "Franklin", "Douglass", "Tubman", "Hamilton",
    "Riverside", "Lakeview", "Hillcrest", "Maple Grove", "Oak Park", "Cedar Ridge", "Brookside",
    "Parkway", "Sunset", "Harbor View", "Pine Hill", "Meadowbrook", "King", "Chavez", "Clemente",
    "Hughes", "Carver", "Einstein", "Curie", "Marshall", "Earhart", "Whitman",
)
CITIES = ("Bronx", "Brooklyn", "Queens", "Yonkers", "Newark", "Paterson", "Albany", "Buffalo", "Rochester",
          "San Juan", "Santo Domingo", "Kingston", "Lagos", "Dhaka", "Guayaquil", "Mexico City")
STATES = ("NY", "NJ", "PA", "CT", "MA", "FL", "CA", "TX")
AREA_CODES = ("212", "347", "718", "917", "646", "914", "516", "631", "201", "973")
GRADE_LABELS = tuple(["KG"] + [f"{g:02d}" for g in range(1, 13)])
COMMENT_PREFIXES = ("Parent called: ", "Note from ", "Doctor note provided by ", "Spoke with ")
SUBJECT_NAMES = ELEMENTARY_SUBJECTS + SECONDARY_SUBJECTS
