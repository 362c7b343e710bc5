from celery import shared_task

from . import jobs


@shared_task(name="importers.tasks.run_job", ignore_result=True)
def run_job(job_id):
    return jobs.run_job(job_id)


@shared_task(name="importers.tasks.sweep", ignore_result=True)
def sweep():
    return jobs.sweep()
