"""The worker pool: jobs run off the GUI thread and report only through signals."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QObject, QThread, Slot

from app.core.foundation.errors import ParleyError
from app.workers import FunctionJob, WorkerPool

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytestqt.qtbot import QtBot

    from app.workers.jobs import ProgressFn


@pytest.fixture
def pool(qtbot: QtBot) -> Iterator[WorkerPool]:
    workers = WorkerPool({"local": 1, "net": 2})
    yield workers
    workers.shutdown()


class Recorder(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, object]] = []
        self.threads: set[QThread] = set()

    @Slot(int)
    def on_started(self, job_id: int) -> None:
        self.events.append(("started", job_id))

    @Slot(int, object, object)
    def on_progress(self, _job_id: int, done: object, total: object) -> None:
        self.threads.add(QThread.currentThread())
        self.events.append(("progress", (done, total)))

    @Slot(int, object)
    def on_finished(self, _job_id: int, result: object) -> None:
        self.threads.add(QThread.currentThread())
        self.events.append(("finished", result))

    @Slot(int, str)
    def on_failed(self, _job_id: int, message: str) -> None:
        self.events.append(("failed", message))

    @Slot(int)
    def on_cancelled(self, job_id: int) -> None:
        self.events.append(("cancelled", job_id))


def watch(job: FunctionJob, rec: Recorder) -> FunctionJob:
    job.started.connect(rec.on_started)
    job.progress.connect(rec.on_progress)
    job.finished.connect(rec.on_finished)
    job.failed.connect(rec.on_failed)
    job.cancelled.connect(rec.on_cancelled)
    return job


def test_work_runs_on_a_lane_and_results_arrive_on_the_gui_thread(
    pool: WorkerPool, qtbot: QtBot
) -> None:
    ran_on: list[threading.Thread] = []

    def work(cancel: threading.Event, progress: ProgressFn) -> int:
        ran_on.append(threading.current_thread())
        for i in range(3):
            progress(i + 1, 3)
        return 42

    rec = Recorder()
    job = watch(FunctionJob(work), rec)
    with qtbot.waitSignals([job.started, job.finished], order="strict"):
        pool.submit(job, lane="net")
    qtbot.waitUntil(lambda: len(rec.events) == 5)
    assert ran_on[0] is not threading.main_thread()
    assert rec.events == [("started", job.job_id), ("progress", (1, 3)), ("progress", (2, 3)),
                          ("progress", (3, 3)), ("finished", 42)]  # fmt: skip
    assert rec.threads == {QThread.currentThread()}


def test_known_errors_carry_their_message_and_bugs_say_something_went_wrong(
    pool: WorkerPool, qtbot: QtBot
) -> None:
    def known(cancel: threading.Event, progress: ProgressFn) -> None:
        raise ParleyError("The model file is gone.", "Pick another model.")

    def bug(cancel: threading.Event, progress: ProgressFn) -> None:
        raise ZeroDivisionError

    rec = Recorder()
    for fn in (known, bug):
        job = watch(FunctionJob(fn), rec)
        with qtbot.waitSignal(job.failed):
            pool.submit(job)
    assert rec.events[1] == ("failed", "The model file is gone. Pick another model.")
    assert rec.events[3][1] == "Something went wrong. The details are in Parley's log."


def test_cancel_stops_a_running_job_and_skips_a_queued_one(pool: WorkerPool, qtbot: QtBot) -> None:
    started = threading.Event()

    def spin(cancel: threading.Event, progress: ProgressFn) -> None:
        started.set()
        cancel.wait(10)
        return None

    rec = Recorder()
    running = watch(FunctionJob(spin), rec)
    queued = watch(FunctionJob(spin), rec)
    pool.submit(running, lane="local")
    pool.submit(queued, lane="local")  # one-thread lane: waits behind `running`
    assert started.wait(5)
    with qtbot.waitSignals([running.cancelled, queued.cancelled]):
        queued.cancel()
        running.cancel()
    assert ("started", queued.job_id) not in rec.events
    assert pool.active_jobs() == [] or qtbot.waitUntil(lambda: pool.active_jobs() == []) is None


def test_shutdown_cancels_running_work_and_stops_every_thread(qtbot: QtBot) -> None:
    workers = WorkerPool({"local": 1, "io": 2})

    def spin(cancel: threading.Event, progress: ProgressFn) -> None:
        cancel.wait(30)

    job = FunctionJob(spin)
    workers.submit(job, lane="io")
    workers.shutdown(timeout_ms=5000)
    assert job.is_cancelled


def test_a_lane_stuck_in_a_blocking_call_does_not_hold_up_shutdown(qtbot: QtBot) -> None:
    workers = WorkerPool({"local": 1, "net": 1})
    release = threading.Event()
    running = threading.Event()

    def blocked(cancel: threading.Event, progress: ProgressFn) -> None:
        running.set()
        release.wait(30)  # ignores cancel, like a library's retry loop

    workers.submit(FunctionJob(blocked), lane="net")
    assert running.wait(5)
    assert workers.shutdown(io_timeout_ms=200) is False
    release.set()  # let the thread finish so the test leaves nothing running
    for lane in workers._stuck:
        assert lane.wait(5000)
