"""The worker's error tree.

WorkerError
 ├── EngineError      the model failed on this input: the job ends `failed` (engine_error)
 ├── UnknownEngine    the pools file names an engine nobody registered (at start-up)
 └── JobLost          the job record vanished or was fenced by a newer attempt mid-run
"""


class WorkerError(Exception):
    code = "worker_error"


class EngineError(WorkerError):
    """A failure the caller should see: the job ends `failed` with `code` and the message."""

    def __init__(self, message: str, code: str = "engine_error") -> None:
        super().__init__(message)
        self.code = code


class UnknownEngine(WorkerError):
    code = "unknown_engine"


class JobLost(WorkerError):
    """The job's record is gone, ended, or a newer attempt fenced this one out (`fenced`:
    its message now belongs to another worker, which acknowledges it)."""

    code = "job_lost"

    def __init__(self, reason: str, fenced: bool = False) -> None:
        super().__init__(reason)
        self.fenced = fenced
