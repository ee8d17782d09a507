"""What a preprocessing step did for one video: a store made or reused, a flow made or
reused, or the video skipped with the reason. One record read by the preprocessing CLI,
the flow images and the predictor alike."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..store.markers import STATUSES  # a step ends as its video's marker says: complete or skipped


@dataclass(frozen=True)
class StepResult:
    """One step (``build_store``, or ``build_flow`` for one sampling) of one video.

    ``status``: complete or skipped (``reason`` says why); ``reused``: taken from the cache
    as it was; ``rebuilt``: why it was made again ("" when new or reused); ``seconds``: wall
    time of the step; a flow step also names its ``flow`` in the store and its ``pairs``.
    """

    status: str
    reason: str = ""
    reused: bool = True
    rebuilt: str = ""
    seconds: float = 0.0
    flow: str = ""
    pairs: int = 0

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"step status {self.status!r} is not one of {', '.join(STATUSES)}")

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def skipped(self, reason: str) -> StepResult:
        """The same step, skipped for ``reason``."""
        return replace(self, status="skipped", reason=reason)

    def how(self) -> str:
        """'reused from the cache', 'made in 1.2 s' or 'rebuilt (why) in 1.2 s' (for logs)."""
        if self.reused:
            return "reused from the cache"
        return (f"rebuilt ({self.rebuilt})" if self.rebuilt else "made") + f" in {self.seconds:.1f} s"


@dataclass(frozen=True)
class VideoResult:
    """A video's store step and its flow steps (``{flow name: step}``): complete when all are."""

    store: StepResult
    flows: dict[str, StepResult]

    @property
    def reasons(self) -> list[str]:
        if not self.store.complete:
            return [self.store.reason]
        return [f.reason for f in self.flows.values() if not f.complete]

    @property
    def complete(self) -> bool:
        return not self.reasons

    @property
    def status(self) -> str:
        return "complete" if self.complete else "skipped"

    @property
    def reason(self) -> str:
        """Why the video is skipped (the first reason), or ''."""
        return self.reasons[0] if self.reasons else ""
