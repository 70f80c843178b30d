"""The admin service's routers, one small module per family of routes."""
