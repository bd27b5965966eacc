"""Job records in Redis: key names, status records and their transitions, event streams."""
