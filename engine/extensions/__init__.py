"""Browser extensions: reading an uploaded .zip/.crx safely and unpacking it for Chromium."""
