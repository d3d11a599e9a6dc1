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
    code = "job_lost"
