"""Live view and recordings of runtimes.

- `tokens`: the signed embed tokens the API mints and the pages and websocket accept.
- `hub`: one per live runtime: its one CDP screencast, shared by every viewer, the tab it
  shows, and the viewers' bounded outboxes. `hubs` follows runtimes as an observer of the
  runtime manager (which never imports this package), and so does `recorder.recorders`.
- `input`: viewer input (mouse, wheel, keys, paste) turned into CDP Input commands.
- `recorder`: every tab's own throttled screencast, its frames written per tab under
  VAR_DIR/recordings, finalised when the runtime ends.
- `recordings`: the files' format, reading them while they grow, expiry after
  ENGINE_RECORDING_RETENTION_SECONDS; `video`: a recording exported as WebM or MP4 (PyAV).
- `views`, `consumers`, `urls`, `routing`: the /embed pages, their assets and the viewer websocket.
"""
