"""Start the window: open the data dir, recover crashed answers, show the main window."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from app import APP_NAME, __version__
from app.core.context import AppContext
from app.core.foundation.errors import ParleyError
from app.core.foundation.paths import data_dir, log_path
from app.logs import configure_logging
from app.ui.resources import icon_path

if TYPE_CHECKING:
    from app.workers import WorkerPool

logger = logging.getLogger(__name__)

# Benchmarks set this: print when the window is up, then quit.
EXIT_AFTER_SHOWN_ENV = "PARLEY_EXIT_AFTER_SHOWN"


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    QApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName("parley")
    if (icon := icon_path()) is not None:
        app.setWindowIcon(QIcon(str(icon)))
    return app


def run_gui(argv: list[str] | None = None) -> int:
    app = create_application(argv)
    from app.ui.single_instance import InstanceGuard

    guard = InstanceGuard(data_dir(), app)
    if not guard.claim():
        return _defer_to_running_window(guard.name)
    ctx = open_context()
    if ctx is None:
        return 1
    configure_logging(log_path(data_dir()))
    from app.ui.main_window import MainWindow
    from app.workers import WorkerPool

    pool = WorkerPool()
    window = MainWindow(ctx, pool)
    guard.activation_requested.connect(window.bring_forward)
    window.show()
    if os.environ.get(EXIT_AFTER_SHOWN_ENV):
        _report_shown_and_quit(app)
    return finish(app.exec(), pool, ctx)


def open_context() -> AppContext | None:
    """Open the data folder; a damaged database gets the offer of its newest backup.

    None (after telling the user why) when Parley can't start.
    """
    from app.core.foundation.db_errors import CorruptDatabaseError

    try:
        return AppContext.open()
    except CorruptDatabaseError as exc:
        from app.ui.restore import offer_restore

        restored = offer_restore(exc)
        if restored is None:
            _cant_start(exc)
            return None
        sys.stderr.write(f"parley: {restored}\n")
    except ParleyError as exc:
        _cant_start(exc)
        return None
    try:
        return AppContext.open()  # on the restored backup
    except ParleyError as exc:
        _cant_start(exc)
        return None


def _cant_start(exc: ParleyError) -> None:
    # Also on stderr: someone starting `parley` from a terminal reads it there.
    sys.stderr.write(f"parley: {exc}\n")
    sys.stderr.flush()
    QMessageBox.critical(None, f"{APP_NAME} can't start", str(exc))


def _defer_to_running_window(name: str) -> int:
    """Another window has this data folder: bring it forward instead of opening a second."""
    from app.ui.single_instance import bring_forward

    if bring_forward(name):
        sys.stdout.write(f"{APP_NAME} is already open for this data folder: brought it forward.\n")
        return 0
    sys.stderr.write(
        f"parley: {APP_NAME} is already running for this data folder ({data_dir()}) but its "
        "window did not answer. Close it (or end its process) and start Parley again.\n"
    )
    return 1


def finish(code: int, pool: WorkerPool, ctx: AppContext) -> int:
    """After the event loop: stop the workers, close the store, and leave."""
    stopped = pool.shutdown()
    ctx.close()
    if not stopped:
        # A network call is still blocked in a library's retry loop. Everything is saved;
        # leave without running Qt's destructors, which abort on a running thread.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _report_shown_and_quit(app: QApplication) -> None:
    def report() -> None:
        sys.stdout.write(f"PARLEY_SHOWN {time.time():.6f}\n")
        sys.stdout.flush()
        app.quit()

    # A zero timer fires once the event loop runs, i.e. after the show events.
    QTimer.singleShot(0, report)
