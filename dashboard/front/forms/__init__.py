"""The console's forms, one module per resource as in `views/`; `upstream.py` is their base."""
