"""Read by gunicorn from the working directory (the repository root, /app in the image)."""

import os

# No control socket: gunicorn would create one in $XDG_RUNTIME_DIR or ~/.gunicorn (outside var/,
# and shared by every gunicorn of that user); nothing here uses gunicornc.
control_socket_disable = True


def child_exit(server, worker):
    """A web worker exited: its live gauges leave /metrics (ilert/metrics.py, multiprocess mode)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings")
    from django.conf import settings

    settings.METRICS_MULTIPROCESS  # noqa: B018 - loading the settings sets PROMETHEUS_MULTIPROC_DIR for this process
    from ilert import metrics

    metrics.process_dead(worker.pid)
