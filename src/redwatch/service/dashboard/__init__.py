"""The dashboard: server-rendered pages (Jinja2) with htmx partials and Plotly charts, all
served by the service itself from installed packages (no CDN, nothing fetched at run time)."""
