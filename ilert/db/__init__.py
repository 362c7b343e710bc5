"""The PostgreSQL backend: Django's own, with a health check that costs no round trip (base.py)."""
