"""What the CDP rules (engine/cdp/rules.py) need to know about one runtime and one caller.

- `downloads_dir`: where every guarded client's downloads go (the runtime's own, where the
  engine picks each one up as an artifact).
- sealing (the vault's use-without-read): a caller without raw reads (an admin key, or a runtime
  whose vault mount has `allowRawReads`) may not run page-reading methods while a page of the
  runtime shows a document the vault filled; a caller that scripts a page marks it, so the vault
  will not fill it afterwards. The state is the runtime session's `seal` (engine/runtimes/seal.py).
- withheld after a fill: once a vault secret was typed into the runtime (`seal.filled`), a caller
  without raw reads gets no request or response body and has the filled values replaced in
  every message (`withholds`, `redact`).
- live control: input is refused while a person holds the runtime's live control.
"""

from dataclasses import dataclass, field
from typing import Any

from engine import paths
from engine.live.hub import hubs
from engine.runtimes import seal
from engine.runtimes.session import RuntimeSession

TAINT_REASON = "A CDP client scripted this page."


@dataclass
class SessionPolicy:
    session: RuntimeSession
    raw_reads: bool
    downloads_dir: str = ""
    _scripted: set[str | None] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.downloads_dir = str(paths.runtime_scratch_dir(self.session.runtime_id) / "downloads")
        self.raw_reads = seal.raw_reads(self.raw_reads, self.session.runtime.mounts)

    async def sealed(self) -> bool:
        if self.raw_reads:
            return False
        return await self.session.seal.sealed() is not None

    async def scripted(self, target_id: str | None) -> None:
        """Mark the page once per target: from then on every document it shows counts as
        scripted (a CDP client may leave init scripts, bindings or workers behind)."""
        runtime_seal = self.session.seal
        if target_id in self._scripted:
            return
        self._scripted.add(target_id)
        page = await runtime_seal.page_of(list(self.session.pages.values()), target_id) if target_id else None
        if page is None:
            runtime_seal.taint_runtime(TAINT_REASON)  # not a page we know (a worker, an iframe): all of them
        else:
            await runtime_seal.taint(page, TAINT_REASON, every_document=True)

    def withholds(self) -> bool:
        return self.session.seal.withholds(self.raw_reads)

    def redact(self, message: dict[str, Any]) -> dict[str, Any]:
        redacted: dict[str, Any] = self.session.seal.redact(message)
        return redacted

    def controlled_by_someone_else(self) -> bool:
        """A person holds the runtime's live control now (engine/live/control.py: its tenure)."""
        hub = hubs.get(self.session.runtime_id)
        return hub is not None and hub.control.tenure is not None
