"""Running many runs on one machine: one worker process per run, ``workers`` at a time."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from tlbench.runner.plan import RunSpec
from tlbench.runner.worker import Job, Store, execute

# Progress events: (key, steps done, steps total).
ProgressFn = Callable[[str, int, int], None]
DoneFn = Callable[[RunSpec, dict[str, Any]], None]


def _context() -> Any:
    # fork starts a run in milliseconds with the agent's libraries already imported; the parent
    # never initialises CUDA, so forking is safe. Elsewhere (macOS, Windows) use spawn.
    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _warm_up() -> None:
    """Import in the parent what every forked worker would otherwise import on its own.

    torch loads its compiler stack (``torch._dynamo``, about 0.8 s) lazily, on an optimiser's
    first step; done once here, each forked run inherits it instead of paying for it.
    """
    if "torch" in sys.modules:
        import torch._dynamo  # noqa: F401


def _child(job: Job, events: Any) -> None:
    """Body of a worker process: log to the run's log file, execute, report progress."""
    store = Store(job.out)
    log = os.open(store.log(job.run.key), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        import torch

        torch.set_num_threads(1)  # one core per run: workers run side by side
    except ImportError:  # pragma: no cover
        pass
    record = execute(job, lambda done, total: events.put((job.run.key, done, total)))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if record["status"] == "ok" else 3)


def _failed(job: Job, error: str) -> dict[str, Any]:
    record = {
        "key": job.run.key,
        "condition": job.run.condition,
        "source_seed": job.run.source_seed,
        "target_seed": job.run.target_seed,
        "seed": job.run.seed,
        "status": "failed",
        "error": error,
        "log": str(Store(job.out).log(job.run.key)),
    }
    Store(job.out).write(record)
    return record


def run_jobs(
    jobs: Sequence[Job],
    *,
    workers: int,
    run_timeout: float | None = None,
    on_progress: ProgressFn | None = None,
    on_start: Callable[[RunSpec], None] | None = None,
    on_done: DoneFn | None = None,
    after_last_start: Callable[[], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Execute ``jobs``, transfer runs only after their source run succeeded.

    ``workers == 0`` executes in this process (for debugging: breakpoints and tracebacks work);
    otherwise each run gets its own worker process, ``workers`` at a time, so that a crash, even
    a hard one, costs only that run. A run past ``run_timeout`` seconds is killed and recorded as
    failed. ``after_last_start`` is called once every run has started (in worker mode): the
    parent has nothing to do then but wait. Returns the record of every job by key.
    """
    records: dict[str, dict[str, Any]] = {}
    pending = list(jobs)
    pending_keys = {job.run.key for job in jobs}

    def finish(job: Job, record: dict[str, Any]) -> None:
        records[job.run.key] = record
        pending_keys.discard(job.run.key)
        if on_done:
            on_done(job.run, record)

    def next_ready() -> Job | None:
        for job in pending:
            source = job.run.source_key
            if source is None or (source not in pending_keys and source not in running_keys()):
                pending.remove(job)
                return job
        return None

    def blocked(job: Job) -> dict[str, Any] | None:
        source = job.run.source_key
        if source is not None and source in records and records[source].get("status") != "ok":
            return _failed(job, f"its source run {source} failed: {records[source].get('error')}")
        return None

    running: dict[str, tuple[Job, Any, float]] = {}

    def running_keys() -> set[str]:
        return set(running)

    if workers <= 0:
        while pending:
            job = pending.pop(0)
            failure = blocked(job)
            if failure is not None:
                finish(job, failure)
                continue
            if on_start:
                on_start(job.run)
            progress = (lambda d, t, k=job.run.key: on_progress(k, d, t)) if on_progress else None
            finish(job, execute(job, progress))
        return records

    ctx = _context()
    if ctx.get_start_method() == "fork":
        _warm_up()
    events = ctx.Queue()
    while pending or running:
        while len(running) < workers:
            ready = next_ready()
            if ready is None:
                break
            failure = blocked(ready)
            if failure is not None:
                finish(ready, failure)
                continue
            Store(ready.out).record_path(ready.run.key).unlink(missing_ok=True)
            process = ctx.Process(target=_child, args=(ready, events), daemon=True)
            process.start()
            running[ready.run.key] = (ready, process, time.monotonic())
            if on_start:
                on_start(ready.run)
        if not pending and after_last_start is not None:
            after_last_start()  # no fork follows, so importing now is safe
            after_last_start = None
        try:
            key, done, total = events.get(timeout=0.05)
            if on_progress and key in running:
                on_progress(key, done, total)
        except queue.Empty:
            pass
        for key, (job, process, started) in list(running.items()):
            if process.exitcode is None:
                if run_timeout is not None and time.monotonic() - started > run_timeout:
                    process.kill()
                    process.join()
                    del running[key]
                    finish(job, _failed(job, f"killed after the run timeout of {run_timeout:g} s"))
                continue
            process.join()
            del running[key]
            record = Store(job.out).read(key)
            if record is None or (process.exitcode != 0 and record.get("status") == "ok"):
                code = process.exitcode
                why = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                record = _failed(job, f"the worker process died ({why}) before writing a result")
            finish(job, record)
    return records
