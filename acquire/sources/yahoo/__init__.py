"""Yahoo Finance: the client, its shared cookie/crumb session, parsers and models."""
