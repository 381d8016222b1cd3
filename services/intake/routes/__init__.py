"""The intake API's routers, one module each, included by services/intake/api.py."""
