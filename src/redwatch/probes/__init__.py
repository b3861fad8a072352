"""Red-team probes by family; each registered under the `redwatch.probes` entry point."""
