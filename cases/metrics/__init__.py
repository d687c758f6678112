"""The manager's metrics dashboard: figures (aggregate queries), percentiles, SVG charts, the page."""
