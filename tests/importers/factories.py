from importers.models import ImportJob
from tests.factories import register


def make_job(tenant):
    job = ImportJob(tenant=tenant, vendor="pagerduty", status=ImportJob.Status.DONE, report={"dry_run": True})
    job.save()
    return job


register(ImportJob, make_job)
