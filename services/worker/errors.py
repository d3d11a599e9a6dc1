"""The worker's error tree.

WorkerError
 ├── EngineError      the model failed on this input: the job ends `failed` (engine_error)
 ├── UnknownEngine    the pools file names an engine nobody registered (at start-up)
 ├── JobLost          the job record vanished or was fenced by a newer attempt mid-run
 └── LogRegressed     the job's log lost events this worker wrote (a Redis failover)
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


class LogRegressed(WorkerError):
    """The job's record has a lower seq than one this worker was given: Redis failed over to
    a replica that had not received the end of the log. The attempt starts again."""

    code = "log_regressed"

    def __init__(self, floor: int) -> None:
        super().__init__(f"the log lost the events after seq {floor}")
        self.floor = floor
