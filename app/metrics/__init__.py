"""Prometheus metrics at /metrics: counters kept by each process, gauges read from the database."""

# Where prometheus-client's multiprocess mode keeps each process's counters. Read by
# prometheus-client when it is first imported, so it is set before any web process starts.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
