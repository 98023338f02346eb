"""The v1 HTTP layer: one module per resource group; the API object itself is `engine.api.app`."""
