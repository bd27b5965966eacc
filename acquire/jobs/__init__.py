"""arq task modules, one per job kind, and the runtime that wraps them."""
