from __future__ import annotations

from snapinfra_shared.settings import WorkerSettings


class NotifierSettings(WorkerSettings):
    pass
