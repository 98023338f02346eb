"""Live view and recordings of runtimes.

- `tokens`: the signed embed tokens the API mints and the pages and websocket accept.
- `hub`: one per live runtime: its one CDP screencast, shared by every viewer and the recorder,
  the tab it shows, and the viewers' bounded outboxes. `hubs` follows runtimes as an observer
  of the runtime manager (which never imports this package).
- `input`: viewer input (mouse, wheel, keys, paste) turned into CDP Input commands.
- `recorder`: frames written per tab under VAR_DIR/recordings, finalised when the runtime ends,
  expired after ENGINE_RECORDING_RETENTION_SECONDS.
- `views`, `consumers`, `urls`, `routing`: the /embed pages, their assets and the viewer websocket.
"""
