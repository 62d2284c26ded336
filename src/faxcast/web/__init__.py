"""The web customer space: server-rendered pages (Jinja2) over the same use cases as the API."""
