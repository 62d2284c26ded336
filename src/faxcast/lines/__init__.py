"""Fax lines: where faxes leave from (the sandbox network, later SIP trunks)."""
