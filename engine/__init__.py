"""The BCTRL engine: a self-hosted server for the BCTRL v1 API with real Chromium runtimes."""
