"""The always-on service (`redwatch serve`): REST API v1 with API keys and roles, the
campaign scheduler and worker, continuous monitoring, alerts and incidents, the feedback
loop from findings to mitigations, and the dashboard. Sits on top of every other package."""
