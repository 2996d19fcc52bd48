"""``kinvolved``: the command line, one module per command group (``main.py`` assembles them).

runs.py         what the commands that run Dagster share: KINVOLVED_HOME, the local instance,
                the runs' console output sent to a log file
validate.py     validate (offline, no Dagster)
demo.py         demo
ingest.py       ingest
backfill.py     backfill: queued on the instance, in process, or one backlog run
onboard.py      onboard (and the onboarded schools and absence codes read back)
configs.py      configs
prepare_dbt.py  prepare-dbt
deliveries.py   deliveries, reingest, supersede (the delivery ledger)

The other rooms keep their own commands: generator/command.py, rest/command.py, report/command.py,
dbt_docs.py.
"""
