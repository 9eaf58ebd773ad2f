"""The raw event log: every authentic webhook body, kept as received."""
