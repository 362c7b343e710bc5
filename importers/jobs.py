"""Dashboard imports as background jobs: queued → running → done/failed, with progress.

The job is claimed with a compare-and-set (a repeated task is a no-op). The vendor key is stored
encrypted (ilert.secrets) for the job only and erased when it ends, whatever happened."""

import logging
from datetime import timedelta

from ilert import clock, kick
from ilert.errors import DomainError
from ilert.netguard import BlockedTarget

from . import services
from .client import VendorError
from .models import ImportJob
from .vendors import adapter_for

log = logging.getLogger(__name__)


def start(tenant, *, by, vendor, api_key, base_url="", only=(), dry_run=True):
    job = ImportJob(tenant=tenant, vendor=vendor, base_url=base_url or "", only=",".join(only),
                    created_by=by, report={"dry_run": dry_run})
    job.set_api_key(api_key)
    job.save()
    from .tasks import run_job  # a cycle: importers.tasks runs this module

    kick.after_commit(run_job, job.pk)
    return job


def run_job(job_id):
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING)
    if claimed != 1:
        return None
    job = ImportJob.objects.select_related("tenant", "created_by").get(pk=job_id)
    dry_run = bool(job.report.get("dry_run", True))

    def progress(done, total, label):
        ImportJob.objects.filter(pk=job.pk).update(done_steps=done, total_steps=total, current=label[:200])

    status, report, error = ImportJob.Status.FAILED, {"dry_run": dry_run}, ""
    adapter = None
    try:
        adapter = adapter_for(job.vendor, job.api_key, job.base_url or None)
        result = services.run(job.tenant, adapter, dry_run=dry_run, only=job.only.split(","), by=job.created_by,
                              progress=progress)
        status, report = ImportJob.Status.DONE, result.as_dict()
    except (VendorError, BlockedTarget, DomainError, ValueError) as exc:
        error = str(exc)
    except Exception:  # the job must end (and lose its key) whatever happened
        log.exception("import job %s failed", job.pk)
        error = "The import failed unexpectedly; the error is in the server log."
    finally:
        if adapter is not None:
            adapter.client.close()  # the vendor's connections
        ImportJob.objects.filter(pk=job.pk).update(status=status, report=report, error=error, api_key_encrypted="",
                                                   finished_at=clock.now())
    return status


LOST_KICK = timedelta(seconds=60)  # a queued job nobody took this long after its kick: run it here
ABANDONED = timedelta(hours=6)  # a running job this old lost its worker: end it (and its key)


def sweep(now=None):
    """The ticker's catch-up: a lost kick only delays a job; a dead worker's job ends and forgets its key."""
    now = now or clock.now()
    ImportJob.objects.filter(status=ImportJob.Status.RUNNING, created_at__lte=now - ABANDONED).update(
        status=ImportJob.Status.FAILED, api_key_encrypted="", finished_at=now,
        error="The job stopped without finishing (its worker died); start it again.")
    queued = ImportJob.objects.filter(status=ImportJob.Status.QUEUED, created_at__lte=now - LOST_KICK)
    for pk in queued.order_by("created_at").values_list("pk", flat=True)[:5]:
        run_job(pk)
