"""Dashboard imports as background jobs: queued → running → done/failed, with progress.

The job is claimed with a compare-and-set (a repeated task is a no-op). The vendor key is stored
encrypted (ilert.secrets) for the job only and erased when it ends, whatever happened."""

import logging

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
    from .tasks import run_job

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
        ImportJob.objects.filter(pk=job.pk).update(status=status, report=report, error=error, api_key_encrypted="",
                                                   finished_at=clock.now())
    return status
