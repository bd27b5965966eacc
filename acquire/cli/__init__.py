"""The ``acquire`` command line (entry point :func:`acquire.cli.main.main`)."""
