"""The operating-system barrier around user code: the command that starts a sandbox.

With bubblewrap (Debian's ``bubblewrap``) every sandbox gets its own user, mount, PID,
network, IPC, UTS and cgroup namespaces; a root filesystem that is an empty read-only tmpfs
holding only the Python interpreter, its standard library (``site-packages`` hidden) and
the shared libraries they load; ``/proc`` of its own PID namespace, a minimal ``/dev``, a
small private ``/tmp``; no network but its own loopback; an empty environment; and the
unprivileged user 65534. Inside, every call also runs under resource limits and a seccomp
filter (``seccomp_program``) that refuses new processes, ``exec``, ``ptrace`` and the
calls that could leave state for the next call (System V IPC, keyrings).

Without bubblewrap, or where user namespaces are disabled, user code is refused with the
reason, unless ``SANDBOX_ALLOW_UNPROTECTED`` (development only; the settings refuse it in
production) lets it run in a plain subprocess: the limits and the seccomp filter still
apply, the namespaces do not.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

BUBBLEWRAP = "bubblewrap"
UNPROTECTED = "unprotected"
UNAVAILABLE = "unavailable"
SANDBOX_UID = 65534  # "nobody" inside the sandbox's own user namespace
CHILD_SOURCE = Path(__file__).with_name("child.py")
SYSTEM_LIBRARY_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib")
# Extension modules whose libraries the sandbox must hold (besides the interpreter's).
EXTENSIONS = ("_ssl", "_hashlib", "_ctypes", "_decimal", "_json", "_sqlite3", "zlib", "_lzma",
              "_bz2", "_uuid", "_socket", "select", "math", "_datetime")

# System calls user code never needs; each fails with EPERM.
DENIED_SYSCALLS = (
    "fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "keyctl", "add_key",
    "request_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "shmget", "msgget", "semget", "mq_open", "swapon",
    "swapoff", "reboot", "acct", "quotactl", "open_by_handle_at", "name_to_handle_at",
    "pidfd_getfd", "move_mount", "open_tree", "fsopen", "fsmount",
)
CLONE_THREAD = 0x00010000


@dataclass(frozen=True)
class Barrier:
    """How sandboxes start on this host: the mode, why (when not bubblewrap), the command."""

    mode: str
    reason: str = ""
    argv_prefix: tuple[str, ...] = ()
    tmp: str = ""

    @property
    def isolated(self) -> bool:
        return self.mode == BUBBLEWRAP


def interpreter() -> str:
    """Return the real interpreter of this Python (not a virtualenv's link to it)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def _libraries(path: str) -> list[str]:
    """Return the shared libraries ``path`` loads, as the dynamic linker finds them."""
    try:
        listing = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=10,
                                 check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in listing.splitlines():
        words = line.split()
        candidates = [w for w in words if w.startswith("/")]
        if candidates:
            found.append(candidates[0])
    return found


def _is_system(path: str) -> bool:
    return any(path == d or path.startswith(d + "/") for d in SYSTEM_LIBRARY_DIRS)


@functools.lru_cache(maxsize=1)
def filesystem(python: str, tmp_bytes: int) -> tuple[str, ...]:
    """Return bubblewrap's arguments that build the sandbox's read-only filesystem."""
    # The base installation's paths, not a virtualenv's: inside one, "platstdlib" and
    # "purelib" name the virtualenv's folders, which would bind the project's tree.
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix,
            "installed_base": sys.base_prefix, "installed_platbase": sys.base_exec_prefix}
    stdlib = sysconfig.get_path("stdlib", vars=base)
    platstdlib = sysconfig.get_path("platstdlib", vars=base)
    dynload = os.path.join(platstdlib, "lib-dynload")
    binaries = [python]
    for name in EXTENSIONS:
        for candidate in Path(dynload).glob(f"{name}.*.so") if os.path.isdir(dynload) else ():
            binaries.append(str(candidate))
    system_dirs: set[str] = set()
    files: set[str] = {python}
    for binary in binaries:
        for library in _libraries(binary):
            directory = os.path.dirname(library)
            if _is_system(directory):
                system_dirs.add(directory)
            else:
                files.add(library)
    args: list[str] = []
    for directory in sorted(system_dirs):
        args += ["--ro-bind", directory, directory]
    for path in sorted(files):
        args += ["--ro-bind", path, path]
    for directory in dict.fromkeys([stdlib, platstdlib]):
        args += ["--ro-bind", directory, directory]
    # Installed packages are not the standard library: hide every site-packages folder
    # that sits inside it (Debian's dist-packages live elsewhere and are not bound).
    for hidden in dict.fromkeys([sysconfig.get_path("purelib", vars=base),
                                 sysconfig.get_path("platlib", vars=base),
                                 os.path.join(stdlib, "site-packages")]):
        if hidden.startswith(stdlib + "/") or hidden.startswith(platstdlib + "/"):
            if os.path.isdir(hidden):
                args += ["--tmpfs", hidden]
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(tmp_bytes), "--tmpfs", "/tmp",
             "--remount-ro", "/", "--chdir", "/tmp"]
    return tuple(args)


def bubblewrap_argv(bwrap: str, python: str, tmp_bytes: int) -> tuple[str, ...]:
    """Return the command prefix that starts ``python`` inside bubblewrap."""
    return (bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--as-pid-1",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
            "--clearenv", *filesystem(python, tmp_bytes), python)


def probe(argv: tuple[str, ...]) -> str:
    """Start ``argv`` with a trivial program; return "" when it works, else why not."""
    try:
        done = subprocess.run([*argv, "-I", "-S", "-B", "-c", "import json, ssl, ctypes"],
                              capture_output=True, text=True, timeout=30, env={}, cwd="/",
                              check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap could not start: {exc}"
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        return ("bubblewrap could not set up the sandbox (are user namespaces enabled?): "
                + (detail[-1] if detail else f"exit status {done.returncode}"))
    return ""


def detect(*, bwrap: str, python: str, tmp_bytes: int, allow_unprotected: bool) -> Barrier:
    """Return how sandboxes start here: bubblewrap when it works, else why it does not."""
    found = shutil.which(bwrap)
    if found is None:
        reason = (f"bubblewrap ({bwrap}) is not installed: install Debian's bubblewrap "
                  "package (scripts/install-system-deps does)")
    else:
        argv = bubblewrap_argv(found, python, tmp_bytes)
        reason = probe(argv)
        if not reason:
            return Barrier(BUBBLEWRAP, argv_prefix=argv, tmp="/tmp")
    if allow_unprotected:
        return Barrier(UNPROTECTED, reason=reason, argv_prefix=(python,))
    return Barrier(UNAVAILABLE, reason=reason)


@functools.lru_cache(maxsize=1)
def seccomp_program() -> bytes:
    """Return the raw BPF program every call loads before user code (libseccomp builds it)."""
    import pyseccomp

    program = pyseccomp.SyscallFilter(defaction=pyseccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            program.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
        except (OSError, ValueError, RuntimeError):
            continue  # a call this architecture does not have
    # A new process is a clone without CLONE_THREAD; threads stay possible (and count
    # against the address-space limit). clone3 passes its flags in memory, which a filter
    # cannot read: it fails with ENOSYS, and the C library falls back to clone.
    program.add_rule(pyseccomp.ERRNO(errno.EPERM), "clone",
                     pyseccomp.Arg(0, pyseccomp.MASKED_EQ, CLONE_THREAD, 0))
    program.add_rule(pyseccomp.ERRNO(errno.ENOSYS), "clone3")
    with tempfile.TemporaryFile() as raw:
        program.export_bpf(raw)
        raw.seek(0)
        return raw.read()


def child_source() -> str:
    return CHILD_SOURCE.read_text(encoding="utf-8")
