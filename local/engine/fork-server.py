"""The local task spawner's fork server (spawner-process.mjs starts it when python3 >= 3.8 is there).

Why: a task started by Node's child_process.spawn costs ≈ 10 ms of CPU on a 2-core virtual machine, most of it
the fork of a multi-threaded Node process (its page tables copied, then copy-on-write faults and TLB
shootdowns); os.posix_spawn here is glibc's, which clones without copying the address space (CLONE_VM |
CLONE_VFORK), for ≈ 4 ms in all. docs/PERFORMANCE.md, "A fork server for the tasks".

A task's stdout and stderr are FIFOs in a private directory (argv[1]), so that the spawner (Node, which
cannot take a descriptor from another process) reads them as pipes of its own. This process holds each FIFO
open read-write until the spawner has opened its read end (`opened`), so that no output of a task that ends
at once is lost and the spawner's read never meets a FIFO without a writer; then it closes and unlinks it.

Protocol (JSON lines; stdin from the spawner, stdout to it):
  in   {t:'spawn', id, file, argv, env}   {t:'opened', id}   {t:'ended', id}
  out  {t:'ready'}   {t:'spawned', id, pid, stdout, stderr}   {t:'exit', id, code, signal}   {t:'error', id, message}
'spawned' comes before its task's 'exit'. 'ended' tells that the task's process ended and its pipes closed.

It is also the tasks' guard: it runs in a process group of its own (a signal to the server's group does not
reach it) and ignores the signals a terminal or a group kill sends; when its stdin ends (the spawner is gone,
however it went), it holds $SUNDIAL_TASKS_FIFO open (a server starting on the same data dir waits until nobody
does, local/main.ts), SIGTERMs the groups of the tasks not yet ended, and SIGKILLs them once gone or after 5 s
(the executor's grace), as the sh guard of spawner-process.mjs does for tasks that Node starts.
"""
import errno
import json
import os
import select
import shutil
import signal
import stat
import sys
import time

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
    signal.signal(sig, signal.SIG_IGN)
# A task starts with every signal at its default and none blocked, as Node starts one (Python itself ignores
# SIGPIPE and SIGXFSZ, and ignored signals are inherited across exec).
DEFAULTS = [s for s in signal.Signals if s not in (signal.SIGKILL, signal.SIGSTOP)]
GRACE_SECONDS = 5

devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
fifo_dir = sys.argv[1]  # private to this process (0700), made by the spawner, which removes it should this one die
wake_r, wake_w = os.pipe()
os.set_blocking(wake_r, False)
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGCHLD, lambda *_: None)

running = {}  # pid -> task id, until the process is reaped
held = {}  # task id -> (fds, paths), until the spawner opened the FIFOs
groups = {}  # task id -> its process group, from its spawn until the spawner tells it ended


spawner_gone = False


def send(message):
    global spawner_gone
    data = (json.dumps(message, separators=(',', ':')) + '\n').encode()
    try:
        while data and not spawner_gone:
            data = data[os.write(1, data):]
    except BrokenPipeError:
        spawner_gone = True  # its stdin's end follows: stop()


def error_name(err):
    return errno.errorcode.get(err.errno, str(err.errno)) if err.errno else type(err).__name__


def spawn(m):
    task, file, env = m['id'], m['file'], m['env']
    # Searched for in the task's own PATH, as Node searches it.
    path = file if '/' in file else shutil.which(file, path=env.get('PATH', os.defpath))
    if path is None:
        send({'t': 'error', 'id': task, 'message': f'spawn {file} ENOENT'})
        return
    paths = [os.path.join(fifo_dir, f'{task}.{n}') for n in (1, 2)]
    fds = []  # held here (read-write: never blocks, and keeps the FIFO's data) until 'opened'
    ends = []  # the task's: write-only, as a pipe's write end (a write once no one reads gets SIGPIPE)
    try:
        for p in paths:
            os.mkfifo(p, 0o600)
            fds.append(os.open(p, os.O_RDWR | os.O_CLOEXEC))
            ends.append(os.open(p, os.O_WRONLY | os.O_CLOEXEC))
        pid = os.posix_spawn(
            path,
            [file, *m['argv']],
            env,
            file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, ends[0], 1), (os.POSIX_SPAWN_DUP2, ends[1], 2)],
            setsid=True,
            setsigdef=DEFAULTS,
            setsigmask=(),
        )
    except Exception as err:  # OSError (ENOENT, EACCES, EMFILE…), ValueError (a NUL in an argument)…
        release(fds + ends, paths)
        reason = error_name(err) if isinstance(err, OSError) else f'{type(err).__name__}: {err}'
        send({'t': 'error', 'id': task, 'message': f'spawn {file} {reason}'})
        return
    release(ends, ())
    running[pid] = task
    groups[task] = pid
    held[task] = (fds, paths)
    send({'t': 'spawned', 'id': task, 'pid': pid, 'stdout': paths[0], 'stderr': paths[1]})


def release(fds, paths):
    for fd in fds:
        os.close(fd)
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        task = running.pop(pid, None)
        if task is None:
            continue
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            try:
                name = signal.Signals(number).name
            except ValueError:
                name = f'SIG{number}'
            send({'t': 'exit', 'id': task, 'code': None, 'signal': name})
        else:
            send({'t': 'exit', 'id': task, 'code': os.WEXITSTATUS(status), 'signal': None})


def signal_groups(sig):
    alive = False
    for group in groups.values():
        try:
            os.killpg(group, sig)
            alive = True
        except (ProcessLookupError, PermissionError):
            pass
    return alive


def stop():
    """The spawner is gone: stop every task not yet ended, then leave."""
    global spawner_gone
    spawner_gone = True
    fifo = os.environ.get('SUNDIAL_TASKS_FIFO')
    if groups and fifo:
        try:
            if stat.S_ISFIFO(os.stat(fifo).st_mode):
                os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # held until this process exits
        except OSError:
            pass
    signal_groups(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline:
        reap()  # a group whose leader is a zombie of ours still answers signal 0
        if not signal_groups(0):
            break
        time.sleep(0.1)
    else:
        signal_groups(signal.SIGKILL)
    shutil.rmtree(fifo_dir, ignore_errors=True)
    sys.exit(0)


def main():
    send({'t': 'ready'})
    pending = b''
    while True:
        try:
            readable, _, _ = select.select([0, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in readable:
            try:
                while os.read(wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
            reap()
        if 0 in readable:
            data = os.read(0, 65536)
            if not data:
                reap()
                stop()
            *lines, pending = (pending + data).split(b'\n')
            for line in lines:
                m = json.loads(line)
                if m['t'] == 'spawn':
                    spawn(m)
                elif m['t'] == 'opened':
                    release(*held.pop(m['id'], ((), ())))
                elif m['t'] == 'ended':
                    groups.pop(m['id'], None)


main()
