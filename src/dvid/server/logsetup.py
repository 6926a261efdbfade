"""Where the server's log lines go: one format, one destination, shared by every process.

``dvid serve`` and each uvicorn worker process call ``configure``: all of them write either to the
inherited standard error or, with ``[logging] logfile``, to the same file opened for appending
(each write of whole lines is placed atomically, so lines of several processes never mix). Only the
serving main process rotates the file (``LogRotator``: DVID's ``max_log_size`` MB and
``max_log_age`` days); every process's ``LineHandler`` notices the rename at its next write and
reopens the path.
"""

from __future__ import annotations

import glob
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass

LOG_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s [%(process)d] %(message)s"
DATE_FORMAT = "%Y/%m/%d %H:%M:%S"  # DVID's (Go log) date layout
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

_installed: list[LineHandler] = []


@dataclass
class LogSettings:
    """The ``[logging]`` section plus the access-log switch (``[server] accessLog``)."""

    logfile: str = ""  # empty: standard error
    level: str = "info"
    max_log_size_mb: float = 100.0  # rotate past this size (DVID: max_log_size, MB)
    max_log_age_days: float = 0.0  # delete rotated files older than this (0: keep them)
    access_log: bool = True

FLUSH_INTERVAL = 0.5  # seconds an INFO line may wait in memory; warnings and errors go out at once
BUFFER_MAX = 64 << 10


class LogfileError(Exception):
    """``[logging] logfile`` cannot be opened for writing: one line for the operator."""


class LineHandler(logging.Handler):
    """Formats records into lines kept in memory and written with one ``os.write`` per flush.

    Flushes when a WARNING or worse arrives, when 64 KiB are waiting, and every 0.5 s (a thread), so
    an access line costs a string and a list append instead of a system call (measured in
    docs/performance.md). One ``write`` of whole lines to an ``O_APPEND`` file is placed atomically,
    so lines of several processes never mix mid-line. Like ``WatchedFileHandler`` it reopens the
    path when the file was renamed away (rotation), checked once per flush. ``write_line`` is the
    access log's fast path: an already formatted line with no LogRecord.
    """

    def __init__(self, path: str = "") -> None:
        super().__init__()
        self.path = path
        self._fd = -1
        self._ino: tuple[int, int] | None = None
        self._lines: list[str] = []
        self._size = 0
        self._stop = threading.Event()  # before _open, so close() works on a handler that failed to open
        self._open()
        self._thread = threading.Thread(target=self._tick, name="dvid-logflush", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        if not self.path:
            self._fd = sys.stderr.fileno()
            return
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        st = os.fstat(self._fd)
        self._ino = (st.st_dev, st.st_ino)

    def _reopen_if_rotated(self) -> None:
        if not self.path:
            return
        try:
            st = os.stat(self.path)
            same = (st.st_dev, st.st_ino) == self._ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(self._fd)
            self._open()

    def write_line(self, line: str, urgent: bool = False) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self._lines.append(line)
            self._size += len(line)
            if urgent or self._size >= BUFFER_MAX:
                self._flush_locked()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        self._lines.append(line)  # Handler.handle holds self.lock around emit
        self._size += len(line)
        if record.levelno >= logging.WARNING or self._size >= BUFFER_MAX:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._lines or self._fd < 0:
            return
        data = "".join(self._lines).encode("utf-8", "replace")
        self._lines.clear()
        self._size = 0
        try:
            self._reopen_if_rotated()
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:
            pass  # a full disk must not take the server down with it

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._flush_locked()

    def _tick(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()
        if self.path and self._fd >= 0:
            os.close(self._fd)
        self._fd = -1
        super().close()


def configure(settings: LogSettings) -> LineHandler:
    """Install our single handler on the root logger (replacing one installed before)."""
    root = logging.getLogger()
    for h in _installed:
        root.removeHandler(h)
        h.close()
    _installed.clear()
    try:
        if settings.logfile:
            os.makedirs(os.path.dirname(os.path.abspath(settings.logfile)), exist_ok=True)
        handler = LineHandler(settings.logfile)
    except OSError as e:
        folder = os.path.dirname(os.path.abspath(settings.logfile))
        why = f"{folder} is not a directory" if os.path.exists(folder) and not os.path.isdir(folder) \
            else (e.strerror or str(e))
        raise LogfileError(f"[logging] logfile: cannot write the log at {settings.logfile}: {why}") from None
    handler.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
    root.addHandler(handler)
    _installed.append(handler)
    level = LEVELS[settings.level]
    root.setLevel(level)
    logging.logMultiprocessing = False  # saves a lookup per record; the pid is in every line
    # uvicorn's own start-up chatter repeats our lines; keep its warnings and errors
    logging.getLogger("uvicorn.error").setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)
    logging.getLogger("uvicorn.access").disabled = True  # our access log replaces it
    access = logging.getLogger("dvid.access")
    access.disabled = not settings.access_log
    logging.captureWarnings(True)
    return handler


def installed() -> LineHandler | None:
    """The handler ``configure`` installed in this process (the access log's fast path)."""
    return _installed[0] if _installed else None


def _backup_name(path: str, when: float) -> str:
    stem, ext = os.path.splitext(path)
    stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.localtime(when)) + f".{int(when * 1000) % 1000:03d}"
    return f"{stem}-{stamp}{ext or '.log'}"


class LogRotator:
    """Rotates the log file by size and prunes old backups, from the serving main process only.

    A backup is the file renamed to ``<stem>-<YYYY-mm-ddTHH-MM-SS.mmm><ext>`` (lumberjack's scheme, as DVID
    uses); every process's handler reopens the path on its next line.
    """

    def __init__(self, settings: LogSettings, interval: float = 5.0) -> None:
        self.path = settings.logfile
        self.max_bytes = int(settings.max_log_size_mb * (1 << 20))
        self.max_age = settings.max_log_age_days * 86400.0
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dvid-logrotate", daemon=True)

    def start(self) -> None:
        if self.path and self.max_bytes > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> bool:
        """Rotate now if the file is too big; returns whether it did."""
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            return False
        if size < self.max_bytes:
            return False
        now = time.time()
        target = _backup_name(self.path, now)
        os.rename(self.path, target)
        logging.getLogger("dvid.log").info("log rotated: previous lines in %s", target)
        self.prune(now)
        return True

    def prune(self, now: float) -> None:
        if self.max_age <= 0:
            return
        stem, ext = os.path.splitext(self.path)
        for old in glob.glob(f"{glob.escape(stem)}-*{ext or '.log'}"):
            try:
                if now - os.stat(old).st_mtime > self.max_age:
                    os.remove(old)
            except OSError:
                pass

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except OSError as e:  # a full or read-only disk must not stop the server
                logging.getLogger("dvid.log").error("cannot rotate %s: %s", self.path, e)
