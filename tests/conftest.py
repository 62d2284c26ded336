"""Shared pytest set-up. tests/ is a package: helpers are imported as `from tests import pdfs`."""
