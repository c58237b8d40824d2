"""Files the worker reads because a job named them: only from directories an admin configured.

The worker's account can read ``worker.key`` and everything it unseals. A job that names a file on the
worker's host (a firmware package to push, a mounted repository's catalog) must therefore not be able to
name *any* file: an operator who named ``worker.key`` (or a symlink to it, ``k.EXE``) would have had the
private key pushed to an "iDRAC" of his own as the firmware image.

One rule, used at both ends:

* when a job (or a repository) is created, ``check_named`` refuses a path outside ``activity.package_dirs``
  (an admin's setting), a path with ``.``/``..`` components, and, where this process can see it, a
  symbolic link on the way or something that is not a regular file;
* when the worker reads it, ``open_package`` walks from the configured directory one component at a time
  with ``O_NOFOLLOW`` (so a link swapped in after the job was created is not followed), and takes only a
  regular file with one link (no hard link to a file elsewhere), within the size cap, that is not the
  worker's own key.

The configured directories themselves are the admin's word and may be (or sit behind) symlinks.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO

SETTING = "activity.package_dirs"
HOW = f"an admin lists the directories packages may come from: dsm settings set {SETTING} /srv/dell/dups"


class FileRefused(ValueError):
    """A named file the rule does not let the worker read; the message says which rule and what to do."""


def parse_dirs(text: str) -> list[str]:
    """``activity.package_dirs`` as stored: comma-separated absolute, normalized directories, never ``/``."""
    dirs: list[str] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        if not item.startswith("/") or os.path.normpath(item) != item.rstrip("/") or "\x00" in item:
            raise ValueError(f"{item!r} is not an absolute, normalized directory path")
        if item == "/":
            raise ValueError("/ would let a job name any file on the worker host; name the packages' directory")
        if item.rstrip("/") not in dirs:
            dirs.append(item.rstrip("/"))
    return dirs


def _root_of(path: str, dirs: Sequence[str]) -> tuple[str, PurePosixPath]:
    """The configured directory holding ``path`` and the path below it; FileRefused otherwise."""
    if not path.startswith("/"):
        raise FileRefused(f"{path!r} is not an absolute path on the worker host")
    if "\x00" in path or any(part in (".", "..") for part in path.split("/")) or "//" in path:
        raise FileRefused(f"{path!r} has '.', '..' or empty components; give the file's plain path")
    if not dirs:
        raise FileRefused(f"no directory is configured for files a job names: {HOW}")
    pure = PurePosixPath(path)
    for root in dirs:
        if pure != PurePosixPath(root) and pure.is_relative_to(root):
            return root, pure.relative_to(root)
    raise FileRefused(f"{path} is not inside a configured package directory ({', '.join(dirs)}); put the file "
                      f"there, or {HOW}")


def check_named(path: str, dirs: Sequence[str]) -> str:
    """Creation-time check of a file a job names (see the module doc); returns the path.

    Lexical, plus what this process can see: it may run on another host than the worker, or as a user
    who cannot read the directory, so a file it cannot see is left to the worker's own check."""
    root, below = _root_of(path, dirs)
    current = Path(root)
    for index, part in enumerate(below.parts):
        current = current / part
        try:
            info = current.lstat()
        except OSError:
            return path
        if stat.S_ISLNK(info.st_mode):
            raise FileRefused(f"{current} is a symbolic link; the worker does not follow links below {root}: "
                              "copy the file there instead")
        last = index == len(below.parts) - 1
        if last and not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{path} is not a regular file")
        if not last and not stat.S_ISDIR(info.st_mode):
            raise FileRefused(f"{current} is not a directory")
    return path


def open_package(path: str, dirs: Sequence[str], *, max_bytes: int, forbidden: Iterable[Path] = ()) -> BinaryIO:
    """Open a file a job named, for the worker (see the module doc). The caller reads at most ``max_bytes``.

    ``forbidden``: files never to hand out whatever the directories say (the worker's key)."""
    root, below = _root_of(path, dirs)
    flags = os.O_RDONLY | os.O_CLOEXEC
    try:
        fd = os.open(root, flags | os.O_DIRECTORY)
    except OSError as exc:
        raise FileRefused(f"the package directory {root} cannot be opened on the worker host: {exc.strerror}") \
            from None
    try:
        for part in below.parts[:-1]:
            step = os.open(part, flags | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = step
        step = os.open(below.parts[-1], flags | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        os.close(fd)
        fd = step
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a link O_NOFOLLOW refused, or a file where a dir was
            raise FileRefused(f"{path}: a symbolic link (or a file) on the way; the worker does not follow "
                              f"links below {root}") from None
        raise FileRefused(f"{path} cannot be read on the worker host: {exc.strerror}") from None
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file"
    elif info.st_nlink != 1:
        problem = f"has {info.st_nlink} hard links; copy the file into the directory instead of linking it"
    elif not 0 < info.st_size <= max_bytes:
        problem = f"is {info.st_size} bytes; between 1 byte and {max_bytes} are accepted"
    else:
        for other in forbidden:
            try:
                known = other.stat()
            except OSError:
                continue
            if (known.st_dev, known.st_ino) == (info.st_dev, info.st_ino):
                problem = "is the worker's own key"
    if problem is not None:
        os.close(fd)
        raise FileRefused(f"{path} {problem}; refused")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_capped(handle: BinaryIO, max_bytes: int) -> bytes:
    """All of an opened package, refusing one that grew past the cap while it was read."""
    with handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileRefused(f"the file grew past {max_bytes} bytes while it was read; refused")
    return data
