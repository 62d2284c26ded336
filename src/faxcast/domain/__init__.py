"""Pure rules of faxcast: no I/O, no database, no event loop."""
