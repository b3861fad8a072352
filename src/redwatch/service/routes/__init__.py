"""REST API v1 route modules, one per resource; each exposes `router`."""
