"""A task that does nothing, for bench/task_overhead.py: imported only by the worker it starts (-I)."""

from celery import shared_task


@shared_task(name="bench.noop_task.noop")
def noop(n: int) -> None:
    return None
