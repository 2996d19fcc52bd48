"""The OneRoster REST flow: a pull from a district's OneRoster API becomes an ordinary delivery.

``config``   the ``rest:`` block of a customer config and where its credentials come from
``binding``  OneRoster REST JSON (1.1 and 1.2) <-> the contract's CSV columns, endpoint paths
``client``   HTTP + OAuth client: throttling, retries, token refresh, paging (pages stream to disk)
``pull``     one pull: archive the pages, convert to a OneRoster+ delivery, hand it to the landing folder
``state``    the per-customer high-water mark (from pulls whose delivery was ingested)
``server``   a real local provider serving a generated district (tests, the demo)
No Dagster imports here; ``defs/rest_pull.py`` wires pulls into jobs and schedules.
"""
