"""faxcast's command line."""
