"""SEC EDGAR: filings, submissions and XBRL company facts."""
