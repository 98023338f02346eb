"""A browser extension package, built in memory."""

import io
import json
import zipfile


def extension_zip(name: str = "Tab Counter", version: str = "1.2.3") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        manifest = {
            "manifest_version": 3,
            "name": name,
            "version": version,
            "permissions": ["storage", "tabs"],
        }
        archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr("background.js", "chrome.runtime.onInstalled.addListener(() => {});")
    return buffer.getvalue()
