"""Pidfiles: one line `PID\\n`, written to a temporary file in the same directory, fsynced and
renamed into place — never appended, never written through a symlink — and removed only while
they still hold the pid we wrote."""
from __future__ import annotations

import errno
import os

from keepalived_py.core.umask import pidfile_mode
from keepalived_py.errors import PidfileError


def write_pidfile(path: str, pid: int) -> None:
    """Atomically replace `path` with `pid`. Raises PidfileError with a clear reason."""
    directory = os.path.dirname(path) or "."
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise PidfileError(f"pidfile directory {directory} does not exist") from None
    except NotADirectoryError:
        raise PidfileError(f"{directory} is not a directory") from None
    except OSError as e:
        raise PidfileError(f"cannot open pidfile directory {directory}: {e.strerror}") from None
    name = os.path.basename(path)
    tmp = f".{name}.{os.getpid()}.tmp"
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o644, dir_fd=dfd)
        except FileExistsError:
            os.unlink(tmp, dir_fd=dfd)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o644, dir_fd=dfd)
        try:
            os.fchmod(fd, pidfile_mode())     # keepalived's: 0644 less write bits of the umask
            os.write(fd, f"{pid}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        # rename(2) replaces a planted symlink itself; it never writes through it
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except OSError as e:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass
        if e.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
            raise PidfileError(f"cannot write pidfile {path}: {e.strerror}") from None
        raise PidfileError(f"cannot write pidfile {path}: {e.strerror}") from None
    finally:
        os.close(dfd)


def read_pidfile(path: str) -> int | None:
    """The pid in `path`, or None (missing, a symlink, unreadable, or not one number)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 64)
    except OSError:
        return None
    finally:
        os.close(fd)
    text = data.decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def remove_pidfile(path: str, pid: int) -> bool:
    """Remove `path` if it still holds `pid`."""
    if read_pidfile(path) != pid:
        return False
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False
