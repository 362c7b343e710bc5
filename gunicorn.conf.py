"""Read by gunicorn from the working directory (the repository root, /app in the image)."""


def child_exit(server, worker):
    """A web worker exited: its live gauges leave /metrics (ilert/metrics.py, multiprocess mode)."""
    from ilert import metrics

    metrics.process_dead(worker.pid)
