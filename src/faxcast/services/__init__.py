"""Use cases: what the API, the web pages and the CLI can do, each in one transaction."""
