"""Durable, multi-process, append-only storage of a hash-chained JSONL trail.

The promise: :meth:`DurableLog.append` returns only once its lines are on disk (``fdatasync``), and
raises :class:`~kaizen_otel.exceptions.AuditError` otherwise. How it is kept:

* **One writer at a time, across processes.** A process-local lock plus ``flock`` on a lock file
  beside the trail. Under the lock the writer re-reads the tail of the file when another process
  wrote or rotated since, so every line links to the real previous line.
* **One ``os.write`` per line** on an ``O_APPEND`` descriptor. A short write or a write error is
  a failure: the caller gets ``AuditError`` and the writer re-reads the file before the next line;
  the partial bytes are then a torn tail, moved aside by recovery.
* **Group commit.** Callers queue their lines, already serialised. One caller at a time leads: it
  takes the whole queue, writes every line in it under one ``flock`` (catching up with the file
  once), releases the lock, runs one ``fdatasync`` and wakes exactly the callers it covered, then
  hands the lead to the first caller that queued meanwhile. A caller returns only after a sync
  that started after its write has succeeded; a failed sync fails every caller it covered (none is
  acknowledged).
* **Crash recovery.** A last line without a newline (a writer killed mid-write, or a short write)
  is moved to ``<file>.torn-<ns>``, the file cut back to its last complete line, and a
  ``recovery`` line records what was moved, so nothing disappears silently.
* **Rotation and retention** by size and age, with a seal ending each file and a ``link`` line
  starting the next. Retention deletes only the oldest files, after writing a ``retention`` line
  naming them and the anchor the kept files verify from.
* **File system hygiene.** Files 0600, directory 0700, ``O_NOFOLLOW`` everywhere (a symlink is
  refused, never followed), the directory fsynced after every create, rename and delete.

The only fake the tests use is :class:`SysCalls`: the three os calls that durability depends on,
replaceable to inject a failed ``fdatasync`` or a short write.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import stat
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn

from kaizen_otel.audit import chain
from kaizen_otel.audit.files import TrailLayout, complete_length
from kaizen_otel.exceptions import AuditError

__all__ = ["Appended", "DurableLog", "StorageOptions", "SysCalls"]

_log = logging.getLogger("kaizen_otel.audit")

_FILE_MODE = 0o600
_DIR_MODE = 0o700
_OPEN_FLAGS = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_CHUNK = 64 * 1024


class SysCalls:
    """The os calls whose failure durability depends on. Tests replace this to inject faults."""

    def write(self, fd: int, data: bytes) -> int:
        return os.write(fd, data)

    def fdatasync(self, fd: int) -> None:
        os.fdatasync(fd)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)


@dataclass(frozen=True)
class StorageOptions:
    """Rotation, retention and seal policy of one trail (see the ``audit_*`` settings)."""

    rotate_bytes: int = 64 * 1024 * 1024
    rotate_seconds: float = 86400.0
    retention_files: int = 0
    retention_days: float = 0.0
    seal_records: int = 1000
    key: bytes | None = None


class Appended(NamedTuple):
    """One line made durable: its sequence number, hash and full record (``hash`` included).

    A named tuple rather than a frozen dataclass: one is made per line, on the writers' hot path.
    """

    seq: int
    hash: str
    record: Mapping[str, Any]


class _Prepared:
    """A ``record`` line serialised by its caller, before the queue: the leader only chains it."""

    __slots__ = ("body", "record")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.record: dict[str, Any] = {"v": chain.FORMAT_VERSION, "kind": "record", **fields}
        try:
            self.body = chain.prepare_body(self.record)
        except (TypeError, ValueError, RecursionError) as exc:
            raise AuditError(f"audit record cannot be written as JSON: {exc}") from exc


class _Waiter:
    """One caller in the commit queue: what to write, then the outcome the leader hands back.

    The caller sleeps on its own lock, so a finished sync wakes only the callers it covered (no
    shared condition that wakes everybody to re-check), and the next leader is woken directly.
    """

    __slots__ = ("_lock", "action", "appended", "durable", "error", "lead", "records")

    def __init__(
        self, action: Callable[[], list[Appended]] | None, records: list[_Prepared] | None = None
    ) -> None:
        self.action = action
        self.records = records  # the common action, without a closure: write these records
        self.appended: list[Appended] = []
        self.durable = False
        self.error: BaseException | None = None
        self.lead = False
        self._lock = threading.Lock()
        self._lock.acquire()

    def sleep(self) -> None:
        self._lock.acquire()

    def wake(self) -> None:
        self._lock.release()


class DurableLog:
    """The append-only trail at ``path``; safe to share between threads and processes."""

    def __init__(
        self,
        path: str,
        options: StorageOptions | None = None,
        *,
        syscalls: SysCalls | None = None,
        clock: Callable[[], int] = time.time_ns,
        on_recovery: Callable[[Mapping[str, Any]], None] | None = None,
        on_seal: Callable[[Appended], None] | None = None,
    ) -> None:
        self.layout = TrailLayout(os.path.abspath(path))
        self.options = options or StorageOptions()
        self._sys = syscalls or SysCalls()
        self._clock = clock
        self._on_recovery = on_recovery
        self._on_seal = on_seal
        self._new_seals: list[Appended] = []  # seals written in this commit, anchors once durable
        self._key_id = chain.key_id(self.options.key) if self.options.key else None
        self._reset_queue()
        self._pending: list[_Waiter] = []  # written by the leader, waiting for its fdatasync
        self._dirty = False  # lines written since the last successful fdatasync
        self._closing = False
        self._fd = -1
        self._lock_fd = -1
        self._dir_fd = -1
        self._closed = False
        self._broken: str | None = None
        self._seq = -1
        self._head = chain.GENESIS_PREV
        self._last_kind = ""
        self._last_seal_reason = ""
        self._end = 0
        self._head_offset = 0  # where the line ``_head`` names starts, in the file ``_ident``
        self._failed_write: tuple[int, bytes] | None = None  # our own line cut short by a failed write
        self._ident: tuple[int, int] = (0, 0)
        self._file_index = 0
        self._file_started_ns = 0
        self._unsealed = 0
        self._last_seal_ns = clock()
        self._head_ident: tuple[int, int] = (-1, -1)
        self._pending_recovery: dict[str, Any] | None = None
        self._open()
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._after_fork_in_child)

            def _child() -> None:
                method = ref()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=_child)

    # ----------------------------------------------------------------------------- public

    @property
    def path(self) -> str:
        return self.layout.path

    @property
    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last line this process wrote or read under the lock."""
        return self._seq, self._head

    @property
    def unsealed(self) -> int:
        """Lines written since the last seal this process knows of."""
        return self._unsealed

    @property
    def last_seal_ns(self) -> int:
        return self._last_seal_ns

    @property
    def closed(self) -> bool:
        return self._closed

    def append(self, records: Sequence[Mapping[str, Any]]) -> list[Appended]:
        """Append one line per record (each without ``v``/``seq``/``prev``/``hash``); durable on return."""
        self._check_open()
        return self._commit_queued(None, [_Prepared(fields) for fields in records])

    def seal(self, reason: str) -> Appended | None:
        """Write a seal line now (durable on return); None when the trail ends with a seal already.

        ``reason`` is ``explicit`` (asked for) or ``periodic`` (the timer); see ``chain.SEAL_REASONS``.
        """

        def action() -> list[Appended]:
            self._check_open()
            return self._write_seal_if_unsealed(reason)

        appended = self._commit_queued(action)
        return appended[0] if appended else None

    def close(self) -> None:
        """Seal (reason ``close``), sync and release the files. Idempotent."""
        if not self._closed:
            self._commit_queued(self._close_action)

    # ----------------------------------------------------------------------------- opening

    def _open(self) -> None:
        self._make_directory(self.layout.directory)
        try:
            self._dir_fd = os.open(
                self.layout.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            )
            self._lock_fd = self._open_file(self.layout.lock_path, create=True)
        except OSError as exc:
            raise self._open_error(exc) from exc
        self._commit_queued(list)

    def _make_directory(self, directory: str) -> None:
        missing = []
        current = directory
        while not os.path.lexists(current):
            missing.append(current)
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        if os.path.islink(directory):
            raise AuditError(f"refusing the audit directory {directory!r}: it is a symbolic link")
        for created in reversed(missing):
            try:
                os.mkdir(created, _DIR_MODE)
                os.chmod(created, _DIR_MODE)
            except FileExistsError:
                continue
            except OSError as exc:
                raise AuditError(f"cannot create the audit directory {created!r}: {exc.strerror}") from exc
            self._fsync_dir(os.path.dirname(created) or ".")
        mode = stat.S_IMODE(os.stat(directory).st_mode)
        if mode & 0o077:
            _log.warning(
                "audit directory %s is accessible to other users (mode %o); 0700 is recommended",
                directory,
                mode,
            )

    def _fsync_dir(self, directory: str) -> None:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            self._sys.fsync(fd)
        finally:
            os.close(fd)

    def _open_error(self, exc: OSError) -> AuditError:
        if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and os.path.islink(self.layout.directory)):
            return AuditError(f"refusing the audit trail {self.path!r}: a path component is a symbolic link")
        return AuditError(f"cannot open the audit trail {self.path!r}: {exc.strerror or exc}")

    def _open_file(self, path: str, *, create: bool, exclusive: bool = False) -> int:
        flags = _OPEN_FLAGS | (os.O_CREAT if create else 0) | (os.O_EXCL if exclusive else 0)
        fd = os.open(path, flags, _FILE_MODE)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise AuditError(f"refusing {path!r}: not a regular file")
            if stat.S_IMODE(info.st_mode) != _FILE_MODE:
                os.fchmod(fd, _FILE_MODE)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _check_open(self) -> None:
        if self._closed or self._closing:
            raise AuditError(f"the audit trail {self.path!r} is closed")

    def _after_fork_in_child(self) -> None:
        """A forked child shares its parent's descriptors, and with them the parent's flock.

        Give it fresh locks now and fresh descriptors before its first write.
        """
        self._reset_queue()
        self._pending = []
        if not self._closed:
            self._broken = "forked"

    # ----------------------------------------------------------------------------- the commit queue

    def _reset_queue(self) -> None:
        self._mutex = threading.Lock()  # guards the three below; never held across I/O
        self._queue: list[_Waiter] = []  # callers waiting for a leader
        self._leading = False  # a caller holds the lead
        self._batch: list[_Waiter] = []  # what the leader is committing

    def _commit_queued(
        self, action: Callable[[], list[Appended]] | None, records: list[_Prepared] | None = None
    ) -> list[Appended]:
        """Queue ``action`` (it writes lines) or ``records``; return what was appended once durable.

        The first caller to find no leader leads: it commits everything queued by then. The others
        sleep until a leader has synced their lines, or hands them the lead.
        """
        waiter = _Waiter(action, records)
        try:
            with self._mutex:
                self._queue.append(waiter)
                if not self._leading:
                    self._leading = waiter.lead = True
            if not waiter.lead:
                waiter.sleep()
            if waiter.lead:
                with self._mutex:
                    self._batch, self._queue = self._queue, []
                self._commit(self._batch)
        finally:
            # A leader always passes the lead on, and so does a caller interrupted (say by
            # KeyboardInterrupt) at any point: a lead that nobody holds would hang every later call.
            if waiter.lead or (waiter.error is None and not waiter.durable):
                self._release(waiter)
        if waiter.error is not None:
            raise waiter.error
        return waiter.appended

    def _release(self, own: _Waiter) -> None:
        """Leave the queue; if leading, wake the callers committed and hand the lead on."""
        following = None
        with self._mutex:
            if own in self._queue:
                self._queue.remove(own)
            if own.lead:
                batch, self._batch = self._batch, []
                following = self._queue[0] if self._queue else None
                if following is None:
                    self._leading = False
                else:
                    following.lead = True
            else:
                batch = []
        if following is not None:
            following.wake()
        for waiter in batch:
            if not waiter.durable and waiter.error is None:
                waiter.error = AuditError(f"the audit trail {self.path!r} stopped before storing the record")
            if waiter is not own:
                waiter.wake()

    def _commit(self, batch: list[_Waiter]) -> None:
        """Write every waiter's lines holding the cross-process lock once, then one ``fdatasync``.

        Each waiter ends either durable or with its own error; never raises.
        """
        try:
            if self._closed:
                for waiter in batch:
                    self._run(waiter)
                return
            if self._broken == "forked":
                self._reopen_descriptors()
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            except OSError as exc:
                raise AuditError(f"cannot lock the audit trail {self.path!r}: {exc.strerror}") from exc
            try:
                self._catch_up()
                for waiter in batch:
                    self._run(waiter)
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            self._sync_written()
        except Exception as exc:  # the whole batch failed: every waiter not yet durable learns why
            self._pending = []
            self._new_seals = []
            for waiter in batch:
                if not waiter.durable and waiter.error is None:
                    waiter.error = _copy_error(exc)
        finally:
            if self._closing and not self._closed:
                self._release_files()
        self._publish_seals()

    def _publish_seals(self) -> None:
        """Hand the seals this commit made durable to ``on_seal`` (anchors); never raises."""
        seals, self._new_seals = self._new_seals, []
        if self._on_seal is None:
            return
        for appended in seals:
            try:
                self._on_seal(appended)
            except Exception:
                _log.exception("publishing the audit seal at seq %d as an anchor failed", appended.seq)

    def _run(self, waiter: _Waiter) -> None:
        """Write one waiter's lines (under the lock); a failure is that waiter's alone."""
        try:
            if self._broken is not None and not self._closed:
                self._catch_up()
            if waiter.records is not None:
                waiter.appended = self._write_records(waiter.records)
            else:
                assert waiter.action is not None
                waiter.appended = waiter.action()
        except Exception as exc:
            waiter.error = exc
            return
        if self._dirty:
            self._pending.append(waiter)
        else:
            waiter.durable = True  # nothing written, or synced already on the way (a file start)

    def _close_action(self) -> list[Appended]:
        if self._closing or self._closed:
            return []
        try:
            if self._last_kind == "seal" and self._last_seal_reason == "close":
                return []
            return [self._write_seal("close")]
        finally:
            self._closing = True

    def _release_files(self) -> None:
        self._closed = True
        for fd in (self._fd, self._lock_fd, self._dir_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._fd = self._lock_fd = self._dir_fd = -1

    def _reopen_descriptors(self) -> None:
        for fd in (self._fd, self._lock_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = -1
        try:
            self._lock_fd = self._open_file(self.layout.lock_path, create=True)
        except OSError as exc:
            raise self._open_error(exc) from exc
        self._broken = "reopen"

    def _catch_up(self) -> None:
        """Make the in-memory head match the file: reopen, follow a rotation, or re-read the tail."""
        try:
            on_disk = os.lstat(self.layout.path)
        except FileNotFoundError:
            on_disk = None
        except OSError as exc:
            raise AuditError(f"cannot stat the audit trail {self.path!r}: {exc.strerror}") from exc
        if (
            on_disk is not None
            and on_disk.st_size == self._end
            and on_disk.st_ino == self._ident[1]
            and on_disk.st_dev == self._ident[0]
            and self._broken is None
            and self._fd >= 0
        ):
            return  # the common case: the file this writer left, as it left it (so not a symlink)
        self._catch_up_with(on_disk)

    def _catch_up_with(self, on_disk: os.stat_result | None) -> None:
        """The uncommon cases of :meth:`_catch_up`: another writer, a rotation, a damaged or changed file."""
        if on_disk is not None and stat.S_ISLNK(on_disk.st_mode):
            raise AuditError(f"refusing the audit trail {self.path!r}: it is a symbolic link")
        if self._seq >= 0 and (
            self._broken is not None
            or on_disk is None
            or (on_disk.st_dev, on_disk.st_ino) != self._ident
            or on_disk.st_size != self._end
        ):
            self._check_continuity(on_disk)
        if on_disk is None:
            self._active_missing()
            return
        ident = (on_disk.st_dev, on_disk.st_ino)
        if self._fd < 0 or self._broken is not None or ident != self._ident:
            self._switch_to_path()
            return
        if on_disk.st_size != self._end:
            self._load_tail()

    def _check_continuity(self, on_disk: os.stat_result | None) -> None:
        """Refuse to go on when the lines this writer knows are no longer where it left them.

        The writer knows the file it last wrote or read (``_ident``), how long it was (``_end``)
        and its last line (``_head``). Another writer may append to that file or rotate it away
        (it then lives on under its chain index), but never shorten, replace or rewrite it. A file
        cut back, emptied, deleted or replaced under a running writer means lines it acknowledged
        are gone: ``record()`` then fails instead of chaining onto whatever is there now.
        """
        if on_disk is not None and (on_disk.st_dev, on_disk.st_ino) == self._ident:
            where, size = self.path, on_disk.st_size
        else:
            where = self.layout.rotated_path(self._file_index)
            try:
                info = os.lstat(where)
            except FileNotFoundError:
                info = None
            if info is None or (info.st_dev, info.st_ino) != self._ident:
                newer = [index for index, _ in self.layout.rotated() if index > self._file_index]
                if info is None and newer and on_disk is not None:
                    return  # rotated further and removed by another writer's retention
                self._tampered(f"the file holding seq {self._seq} was deleted or replaced")
            size = info.st_size
        if size < self._end:
            self._tampered(f"it was cut from {self._end} to {size} bytes")
        line = self._read_at(where, self._head_offset, self._end - self._head_offset)
        try:
            record, intact = chain.decode_line(line)
        except ValueError:
            record, intact = {}, False
        if not intact or record.get("hash") != self._head:
            self._tampered(f"the line of seq {self._seq} was rewritten")

    def _read_at(self, path: str, offset: int, length: int) -> bytes:
        if self._fd >= 0:
            return self._pread_all(length, offset)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            return os.pread(fd, length, offset)
        finally:
            os.close(fd)

    def _tampered(self, what: str) -> NoReturn:
        self._broken = "tampered"
        raise AuditError(
            f"the audit trail {self.path!r} changed under the writer: {what}; lines up to seq "
            f"{self._seq} were acknowledged. Refusing to chain onto it: run "
            f"`kaizen-otel audit verify {self.path}`"
        )

    def _active_missing(self) -> None:
        """No active file: a new trail, or a rotation cut short by a crash after the rename."""
        if self._fd >= 0 and os.fstat(self._fd).st_nlink == 0:
            self._broken = "deleted"
            raise AuditError(
                f"the active audit file {self.path!r} was deleted while open; lines up to seq "
                f"{self._seq} are no longer in the trail"
            )
        self._switch_to_path()

    def _switch_to_path(self) -> None:
        """(Re)open the active file, creating it when missing, then load its tail."""
        self._sync_written()
        try:
            fd = self._open_file(self.path, create=False)
        except FileNotFoundError:
            self._create_active()
            return
        except OSError as exc:
            raise self._open_error(exc) from exc
        self._use(fd)
        self._load_tail()

    def _use(self, fd: int) -> None:
        old, self._fd = self._fd, fd
        if old >= 0:
            os.close(old)
        info = os.fstat(fd)
        self._ident = (info.st_dev, info.st_ino)
        self._broken = None

    def _create_active(self) -> None:
        """Start a new active file whole, so no crash leaves it empty or half-started.

        Its first lines (genesis or link, then the open seal) are written and synced under a
        staging name; then the file appears under the trail's name in one step (``link``, which
        never replaces an existing file). An active file that exists but is empty is therefore
        never a crash: verify reports it as ``truncated``.
        """
        staging = self.layout.staging_path
        try:
            # A writer killed between link() and unlink() leaves the staging name as a second link
            # to a file of the trail: remove the name, never truncate through it.
            os.unlink(staging)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise self._open_error(exc) from exc
        try:
            fd = os.open(staging, _OPEN_FLAGS | os.O_CREAT | os.O_EXCL, _FILE_MODE)
            os.fchmod(fd, _FILE_MODE)
        except OSError as exc:
            raise self._open_error(exc) from exc
        self._use(fd)
        self._end = 0
        genesis = self._start_file()
        try:
            os.link(staging, self.path)
            os.unlink(staging)
        except OSError as exc:
            self._broken = "create failed"
            raise AuditError(f"cannot start the audit file {self.path!r}: {exc.strerror or exc}") from exc
        self._fsync_dir_fd()
        self._head_ident = self._ident
        if genesis is not None:
            self._mark_started(genesis)

    def _fsync_dir_fd(self) -> None:
        try:
            self._sys.fsync(self._dir_fd)
        except OSError as exc:
            self._broken = "directory fsync failed"
            raise AuditError(f"fsync of the audit directory failed: {exc.strerror}") from exc

    # ----------------------------------------------------------------------------- reading the tail

    def _pread_all(self, length: int, offset: int) -> bytes:
        parts = []
        while length > 0:
            chunk = os.pread(self._fd, min(length, _READ_CHUNK * 16), offset)
            if not chunk:
                break
            parts.append(chunk)
            length -= len(chunk)
            offset += len(chunk)
        return b"".join(parts)

    def _load_tail(self) -> None:
        """Read the last complete line (moving a torn tail aside) and, for a new file, its first line."""
        size = os.fstat(self._fd).st_size
        with os.fdopen(os.dup(self._fd), "rb") as handle:
            complete = complete_length(handle, size)
            if complete < size:
                self._recover_torn(complete, size)
            start = complete_length(handle, complete - 1) if complete > 0 else 0
            handle.seek(0)
            first = handle.readline() if complete > 0 and self._head_ident != self._ident else b""
        self._end = complete
        if complete == 0:
            self._start_empty_file()
        else:
            record = self._parse_trusted(self._pread_all(complete - start, start), "last")
            self._seq = int(record["seq"])
            self._head = str(record["hash"])
            self._head_offset = start
            self._last_kind = str(record.get("kind", ""))
            self._last_seal_reason = chain.seal_reason(record) if self._last_kind == "seal" else ""
            if self._last_kind == "seal":
                self._unsealed = 0
                self._last_seal_ns = int(record.get("timestamp", self._last_seal_ns))
            elif self._unsealed == 0:
                self._unsealed = 1
            if first:
                head = self._parse_trusted(first, "first")
                self._file_index = int(head.get("file_index", 0))
                self._file_started_ns = int(head.get("timestamp", 0))
                if not os.path.lexists(self.layout.started_path):
                    self._mark_started(str(head.get("hash", "")))
        self._head_ident = self._ident
        if self._pending_recovery is not None:
            recovery, self._pending_recovery = self._pending_recovery, None
            try:
                self._write_line(recovery)
            except AuditError:
                self._pending_recovery = recovery  # written with the next line that gets through
                raise

    def _mark_started(self, first_hash: str) -> None:
        """Leave ``<trail>.started`` beside the trail: a trail lived here, never start a new one.

        A writer that finds the trail's files empty or gone while this marker exists refuses to
        write a new genesis line over the loss (see ``_start_file``).
        """
        try:
            fd = os.open(
                self.layout.started_path,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                _FILE_MODE,
            )
        except FileExistsError:
            return
        except OSError as exc:
            _log.warning("cannot write the audit marker %s: %s", self.layout.started_path, exc.strerror)
            return
        try:
            os.write(fd, f"{first_hash}\n".encode("ascii", "replace"))
            self._sys.fsync(fd)
        finally:
            os.close(fd)
        self._fsync_dir_fd()

    def _parse_trusted(self, line: bytes, which: str) -> dict[str, Any]:
        try:
            record, ok = chain.decode_line(line)
        except ValueError:
            ok, record = False, {}
        if not ok or not isinstance(record.get("seq"), int) or not isinstance(record.get("hash"), str):
            self._broken = "damaged"
            raise AuditError(
                f"the {which} line of the audit file {self.path!r} is damaged; refusing to append to it "
                f"(run `kaizen-otel audit verify {self.path}`)"
            )
        return record

    def _recover_torn(self, complete: int, size: int) -> None:
        """Move a torn last line aside, cut the file back, and queue a ``recovery`` line about it.

        Bytes this writer left itself when a write failed (disk full, a file-size limit) are the
        start of a line whose caller was told it failed: they are cut back and recorded without a
        ``.torn-*`` file, so a full disk does not grow one file per failed call.
        """
        torn = self._pread_all(size - complete, complete)
        failed, self._failed_write = self._failed_write, None
        if failed is not None and failed[0] == complete and failed[1].startswith(torn):
            self._cut_own_failed_write(complete, torn)
            return
        stamp = self._clock()
        aside = self.layout.torn_path(stamp)
        try:
            fd = os.open(
                aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, _FILE_MODE
            )
            try:
                os.fchmod(fd, _FILE_MODE)
                written = os.write(fd, torn)
                if written != len(torn):
                    raise OSError(errno.EIO, "short write while saving a torn line")
                self._sys.fsync(fd)
            finally:
                os.close(fd)
            self._fsync_dir_fd()
            os.ftruncate(self._fd, complete)
            self._sys.fdatasync(self._fd)
        except OSError as exc:
            self._broken = "recovery failed"
            raise AuditError(f"cannot recover the torn tail of {self.path!r}: {exc.strerror or exc}") from exc
        details = {
            "kind": "recovery",
            "timestamp": stamp,
            "torn_bytes": len(torn),
            "torn_sha256": hashlib.sha256(torn).hexdigest(),
            "moved_to": os.path.basename(aside),
            "offset": complete,
        }
        self._pending_recovery = details
        _log.warning(
            "audit trail %s ended with a torn line (%d bytes, no newline): moved to %s; "
            "the chain resumes from the last complete line",
            self.path,
            len(torn),
            aside,
        )
        if self._on_recovery is not None:
            self._on_recovery(details)

    def _cut_own_failed_write(self, complete: int, torn: bytes) -> None:
        try:
            os.ftruncate(self._fd, complete)
            self._sys.fdatasync(self._fd)
        except OSError as exc:
            self._broken = "recovery failed"
            raise AuditError(f"cannot cut back {self.path!r}: {exc.strerror or exc}") from exc
        if self._pending_recovery is not None:  # still unwritten: one line tells of every cut
            self._pending_recovery["cuts"] = int(self._pending_recovery.get("cuts", 1)) + 1
            return
        self._pending_recovery = {
            "kind": "recovery",
            "timestamp": self._clock(),
            "cause": "failed_write",
            "torn_bytes": len(torn),
            "torn_sha256": hashlib.sha256(torn).hexdigest(),
            "moved_to": None,
            "offset": complete,
        }

    # ----------------------------------------------------------------------------- writing

    def _write_line(self, fields: Mapping[str, Any]) -> Appended:
        """Chain and write one line the storage itself makes (genesis, link, seal, ...). Under the lock."""
        record: dict[str, Any] = {
            "v": chain.FORMAT_VERSION,
            "seq": self._seq + 1,
            **fields,
            "prev": self._head,
        }
        if record["kind"] == "seal":
            record["count"] = record["seq"]
            record["key_id"] = self._key_id
            record["mac"] = chain.seal_mac(self.options.key, record) if self.options.key else None
        try:
            line, digest = chain.encode_line(record)
        except (TypeError, ValueError) as exc:
            raise AuditError(f"audit record cannot be written as JSON: {exc}") from exc
        self._put(line)
        return self._advance(record, digest)

    def _write_record(self, prepared: _Prepared) -> Appended:
        """Chain and write one caller's record, serialised already: only ``prev``/``seq`` to add.

        Moves the head as :meth:`_advance` does for a record line, without its branches.
        """
        seq = self._seq + 1
        prev = self._head
        line, digest = prepared.body.line(prev, seq)
        self._put(line)
        record = prepared.record
        record["seq"] = seq
        record["prev"] = prev
        record["hash"] = digest
        self._seq = seq
        self._head = digest
        self._last_kind = "record"
        self._unsealed += 1
        return Appended(seq, digest, record)

    def _put(self, line: bytes) -> None:
        """The one ``os.write`` of a line; anything short of all its bytes is a failure."""
        offset = self._end
        try:
            written = self._sys.write(self._fd, line)
        except OSError as exc:
            self._broken = "write failed"
            self._failed_write = (offset, line)
            raise AuditError(f"write to the audit trail {self.path!r} failed: {exc.strerror or exc}") from exc
        self._dirty = True
        if written != len(line):
            self._broken = "short write"
            self._failed_write = (offset, line)
            raise AuditError(
                f"short write to the audit trail {self.path!r}: {written} of {len(line)} bytes; "
                "the record was not stored"
            )
        self._head_offset = offset
        self._end += written

    def _advance(self, record: dict[str, Any], digest: str) -> Appended:
        """Move the in-memory head past a line just written."""
        kind = record["kind"]
        self._seq = record["seq"]
        self._head = digest
        self._last_kind = kind
        appended = Appended(record["seq"], digest, record)
        if kind == "seal":
            self._unsealed = 0
            self._last_seal_ns = record["timestamp"]
            self._last_seal_reason = record["reason"]
            self._new_seals.append(appended)
        else:
            self._unsealed += 1
        return appended

    def _write_records(self, records: Sequence[_Prepared]) -> list[Appended]:
        self._check_open()
        if self._rotation_due():
            self._rotate()
        appended = [self._write_record(prepared) for prepared in records]
        if self.options.seal_records and self._unsealed >= self.options.seal_records:
            self._write_seal("periodic")
        return appended

    def _write_seal_if_unsealed(self, reason: str) -> list[Appended]:
        if self._last_kind == "seal":
            return []
        return [self._write_seal(reason)]

    def _write_seal(self, reason: str) -> Appended:
        """A seal line: the HMAC binds the chain head, the count, the time and the reason."""
        return self._write_line({"kind": "seal", "timestamp": self._clock(), "reason": reason})

    def _start_empty_file(self) -> None:
        """An active file that exists but is empty: only a file nobody wrote a trail to yet.

        The writer itself never leaves one (see ``_create_active``), so an empty file where a trail
        was started, or beside rotated files, lost its lines: refuse to write over that.
        """
        if self.layout.rotated():
            self._broken = "trail emptied"
            raise AuditError(
                f"the active audit file {self.path!r} is empty although rotated files exist: its lines "
                "were removed. Refusing to chain onto it: run `kaizen-otel audit verify`"
            )
        genesis = self._start_file()
        self._head_ident = self._ident
        if genesis is not None:
            self._mark_started(genesis)

    def _start_file(self) -> str | None:
        """Write the first lines of an empty active file: genesis or a link, then an open seal.

        Returns the genesis line's hash for a new trail, None for a later file.
        """
        rotated = self.layout.rotated()
        now = self._clock()
        genesis = None
        if not rotated:
            if os.path.lexists(self.layout.started_path):
                self._broken = "trail gone"
                raise AuditError(
                    f"the audit trail {self.path!r} is empty or gone, but a trail was started here "
                    f"({os.path.basename(self.layout.started_path)} exists): refusing to start a new "
                    "one over it. Keep the damaged files as evidence, move them and the marker "
                    "aside, then open the trail again"
                )
            self._seq = -1
            self._head = chain.GENESIS_PREV
            self._file_index = 0
            genesis = self._write_line({"kind": "genesis", "timestamp": now, "file_index": 0}).hash
        else:
            index, previous = rotated[-1]
            with open(previous, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                complete = complete_length(handle, size)
                start = complete_length(handle, complete - 1) if complete > 0 else 0
                handle.seek(start)
                last = self._parse_trusted(handle.read(complete - start), "last")
            self._seq = int(last["seq"])
            self._head = str(last["hash"])
            self._file_index = index + 1
            self._write_line(
                {
                    "kind": "link",
                    "timestamp": now,
                    "file_index": index + 1,
                    "prev_file": os.path.basename(previous),
                }
            )
        self._write_seal("open")
        self._file_started_ns = now
        self._sync_written()
        return genesis

    # ----------------------------------------------------------------------------- rotation

    def _rotation_due(self) -> bool:
        opts = self.options
        if opts.rotate_bytes and self._end >= opts.rotate_bytes:
            return True
        return (
            bool(opts.rotate_seconds) and (self._clock() - self._file_started_ns) >= opts.rotate_seconds * 1e9
        )

    def _rotate(self) -> None:
        """Seal and close the active file under its index, start the next one with a link line."""
        if not (self._last_kind == "seal" and self._last_seal_reason == "rotation"):
            self._write_seal("rotation")
        self._sync_written()
        target = self.layout.rotated_path(self._file_index)
        if os.path.lexists(target):
            self._broken = "rotation target exists"
            raise AuditError(f"cannot rotate the audit trail: {target!r} already exists")
        try:
            os.rename(self.path, target)
        except OSError as exc:
            raise AuditError(f"cannot rotate the audit trail {self.path!r}: {exc.strerror}") from exc
        self._fsync_dir_fd()
        self._switch_to_path()
        self._apply_retention()

    def _apply_retention(self) -> None:
        opts = self.options
        if not (opts.retention_files or opts.retention_days):
            return
        rotated = self.layout.rotated()
        remove = max(0, len(rotated) - opts.retention_files) if opts.retention_files else 0
        if opts.retention_days:
            cutoff = time.time() - opts.retention_days * 86400
            aged = 0
            for _, path in rotated:
                if os.stat(path).st_mtime >= cutoff:
                    break
                aged += 1
            remove = max(remove, aged)
        if remove == 0:
            return
        victims = rotated[:remove]
        if remove < len(rotated):
            anchor_index, anchor_path = rotated[remove]
        else:
            anchor_index, anchor_path = self._file_index, self.path
        with open(anchor_path, "rb") as handle:
            anchor = self._parse_trusted(handle.readline(), "first")
        self._write_line(
            {
                "kind": "retention",
                "timestamp": self._clock(),
                "removed": [os.path.basename(path) for _, path in victims],
                "anchor_file_index": anchor_index,
                "anchor_prev": anchor["prev"],
            }
        )
        self._sync_written()
        for _, path in victims:
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
        self._fsync_dir_fd()

    # ----------------------------------------------------------------------------- sync

    def _sync_written(self) -> None:
        """``fdatasync`` every line written so far; the waiters it covers become durable.

        Runs in the leader, so nothing is written meanwhile by this process. A failure fails every
        waiter whose lines it covered (after a failed ``fdatasync`` the kernel may have dropped
        those pages, and a later success proves nothing about them) and raises.
        """
        if not self._dirty or self._fd < 0:
            return
        covered, self._pending = self._pending, []
        try:
            self._sys.fdatasync(self._fd)
        except OSError as exc:
            self._broken = "fsync failed"
            message = (
                f"fdatasync of the audit trail {self.path!r} failed: {exc.strerror or exc}; "
                "the record is not durable"
            )
            for waiter in covered:
                waiter.error = AuditError(message)
            raise AuditError(message) from exc
        self._dirty = False
        for waiter in covered:
            waiter.durable = True


def _copy_error(exc: Exception) -> AuditError:
    """A fresh exception per waiter (one instance raised in several threads would share a traceback)."""
    text = str(exc) if isinstance(exc, AuditError) else f"the audit record was not stored: {exc!r}"
    error = AuditError(text)
    error.__cause__ = exc
    return error
