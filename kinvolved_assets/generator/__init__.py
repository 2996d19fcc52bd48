"""Deterministic synthetic district generator (``kinvolved generate``).

generate.py         ``generate``: the district simulated day by day, one OneRoster+ delivery per weekday
                    (a bulk pull on the first day and the first delivery of each month, deltas otherwise),
                    with ``truth`` the expected per-student attendance and a matching customer config
config.py           the customer config of a generated district (``suggested_config``)
calendar.py         the school calendar; simulate.py the district and its days (its fixed tables in
                    district_tables.py, each school day's attendance in daily_attendance.py); truth.py
                    the truth tables
delivery_writer.py  one delivery's files (bulk or delta), as a ZIP (zip_pack.py) or a folder
renderer.py         each entity file as SQL over integer codes (render_sql.py: its building blocks,
                    names.py: the name tables); write.py writes the CSV files; write12.py the 1.2 layout
"""
