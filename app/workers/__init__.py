"""Moves core work off the GUI thread; results come back only as Qt signals."""

from app.workers.chat_job import ChatJob
from app.workers.compare_job import CompareJob
from app.workers.jobs import FunctionJob, Job
from app.workers.pool import Lane, WorkerPool

__all__ = ["ChatJob", "CompareJob", "FunctionJob", "Job", "Lane", "WorkerPool"]
