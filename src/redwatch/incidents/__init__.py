"""Incidents: alerts grouped by target and cause within a window, with a status (open,
mitigated, closed), a timeline, and a post-incident report. The alert hub of the service
opens and extends them; people change their status through the API and the CLI."""
