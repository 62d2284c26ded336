"""The fax engine: T.30 sessions on SpanDSP over G.711 audio or T.38."""
