"""The job kinds, one module per kind, and the registry a worker builds them from."""
