"""Live monitoring: the updates relay, the runtime event pollers, the websockets and the pages
built on them (the updates feed, the runtime page's live view and inspector)."""
