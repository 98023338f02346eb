"""BCTRL Console: the operator dashboard for the BCTRL v1 API."""
