"""One delivery's lifecycle: the landing folder, locating and archiving it, the ledger, the writer lock,
recovery of dead runs, the one-time layout move and the ingest itself."""
