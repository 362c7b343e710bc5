from celery import shared_task

from . import jobs


@shared_task(name="importers.tasks.run_job", ignore_result=True)
def run_job(job_id):
    return jobs.run_job(job_id)
