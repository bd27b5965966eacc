"""Example host applications and consumers for acquire (run from a source checkout)."""
