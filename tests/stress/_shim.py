"""Run one collection module the way a KVM host would, watching every change it makes to the file system.

Usage (by tests/stress/runner.py): ``python _shim.py MODULE.py ARGS.json``. ARGS.json holds
``{"ANSIBLE_MODULE_ARGS": {...}}``, which AnsibleModule reads from its first argument exactly as
when Ansible runs the module. Nothing in the collection is patched: a Python audit hook
(sys.addaudithook) sees each call that changes the file system (open for writing, rename, link,
unlink, mkdir, rmdir, chmod, truncate, symlink, a started subprocess) before it happens.

Environment:
  STRESS_SYSROOT   the run's sysroot; a change whose real path leaves it is an outside write
  STRESS_SCRATCH   os.pathsep-separated directories where the module may write (its temp dir)
  STRESS_EVENTS    file that receives one JSON line per change {"step", "event", "paths", "outside"}
  STRESS_KILL_AFTER k: SIGKILL this process at the first audit event after its k-th change
                   inside the sysroot has started (that is, once the k-th write step has been
                   made and before anything else happens) - a kill -9 at that write step.
"""

import json
import os
import runpy
import signal
import sys

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# event name -> indexes of the arguments that are changed paths
PATH_EVENTS = {
    "os.rename": (0, 1),
    "os.link": (1,),
    "os.symlink": (1,),
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "os.mkfifo": (0,),
    "os.mknod": (0,),
    "shutil.copyfile": (1,),
    "shutil.rmtree": (0,),
}
ALWAYS_SCRATCH = ("/dev/", "/proc/")


def _real(path, follow):
    """Return the real absolute path of path (the last component resolved only when follow)."""
    path = os.fsdecode(path)
    if not os.path.isabs(path):
        path = os.path.join(os.getcwd(), path)
    if follow:
        return os.path.realpath(path)
    head, tail = os.path.split(os.path.normpath(path))
    return os.path.join(os.path.realpath(head), tail)


def _under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def main():
    module_path, args_path = sys.argv[1], sys.argv[2]
    sysroot = os.environ.get("STRESS_SYSROOT") or ""
    root = os.path.realpath(sysroot) if sysroot else None
    scratch = [os.path.realpath(p) for p in os.environ.get("STRESS_SCRATCH", "").split(os.pathsep) if p]
    kill_after = int(os.environ.get("STRESS_KILL_AFTER") or 0)
    log_fd = None
    if os.environ.get("STRESS_EVENTS"):
        log_fd = os.open(os.environ["STRESS_EVENTS"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    state = {"steps": 0, "busy": False, "armed": False}

    def changed_paths(event, args):
        if event == "open":
            path, mode, flags = args[0], args[1], args[2]
            if isinstance(path, int) or path is None:
                return None
            writing = (flags or 0) & WRITE_FLAGS or any(c in (mode or "") for c in "wax+")
            return [(path, True)] if writing else None
        if event == "subprocess.Popen":
            return [("<exec {0}>".format(os.fsdecode(args[0] or "")), False)]
        indexes = PATH_EVENTS.get(event)
        if indexes is None:
            return None
        paths = [(args[i], False) for i in indexes if i < len(args) and isinstance(args[i], (str, bytes, os.PathLike))]
        return paths or None

    def where(path, follow):
        if path.startswith("<exec"):
            return "in"
        try:
            real = _real(path, follow)
        except (OSError, ValueError):
            return "in"
        if any(real.startswith(p) for p in ALWAYS_SCRATCH) or any(_under(real, p) for p in scratch):
            return "scratch"
        if root is not None and _under(real, root):
            return "in"
        return real

    def hook(event, args):
        if state["busy"]:
            return
        state["busy"] = True
        if state["armed"]:
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            paths = changed_paths(event, args)
            if not paths:
                return
            places = [where(os.fsdecode(p) if not isinstance(p, str) else p, follow) for p, follow in paths]
            if all(p == "scratch" for p in places):
                return
            state["steps"] += 1
            outside = [p for p in places if p not in ("in", "scratch")]
            if log_fd is not None:
                line = {"step": state["steps"], "event": event, "paths": [os.fsdecode(p) for p, _f in paths], "outside": outside}
                os.write(log_fd, (json.dumps(line) + "\n").encode())
            if kill_after and state["steps"] == kill_after:
                state["armed"] = True
        finally:
            state["busy"] = False

    sys.argv = [module_path, args_path]
    sys.addaudithook(hook)
    runpy.run_path(module_path, run_name="__main__")


if __name__ == "__main__":
    main()
