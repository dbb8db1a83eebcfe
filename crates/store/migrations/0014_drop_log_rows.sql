-- The rows copied into chunks by the step after migration 13.
DROP TABLE ledger_nodes;
DROP TABLE ledger_entries
