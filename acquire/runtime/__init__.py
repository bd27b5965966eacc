"""What every job gets: its spec and context, the run loop, watchdog, reconciler and arq patches."""
