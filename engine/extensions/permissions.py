"""What an uploaded extension may ask for: nothing that reaches around a runtime's isolation.

Refused at upload (400 `extension.permission_refused`, naming the permission):
- API permissions that route around the egress proxy, read or drive the browser from outside the
  page, or talk to the host: `proxy`, `debugger`, `privacy`, `nativeMessaging`, `management`,
  `webRequestBlocking` (engine/egress/launcher.py, BLOCKED_PERMISSIONS), wherever the manifest
  asks for them (required or optional);
- `file://` host access, as a host permission or a content script's match pattern;
- `declarativeNetRequest` rules shipped with the extension that redirect to a loopback, private
  or otherwise non-public address (a literal or a `localhost` name) or to a refused scheme.
`<all_urls>` stays allowed (benign extensions need it; Chromium lets an unpacked extension with it
read file:// URLs, which in a runtime's view of the files show only that runtime's own profile,
downloads and extensions, and /usr). The managed policy blocks the same permissions for anything
loaded, and the runtime's network namespace leaves the proxy as the only way out whatever an
extension does.
"""

import ipaddress
import json
import socket
import zipfile
from typing import Any
from urllib.parse import urlsplit

from engine.egress.launcher import BLOCKED_PERMISSIONS
from engine.egress.policy import SCHEMES_BLOCKED, IpAddress, address_kind, known_address
from engine.errors import ApiError

RULES_MAX_BYTES = 5 * 1024 * 1024


class PermissionRefused(ApiError):
    def __init__(self, permission: str, why: str) -> None:
        super().__init__(
            400,
            "extension.permission_refused",
            f"The extension asks for {permission}, which this engine refuses: {why}",
            {"permission": permission},
        )


def check(manifest: dict[str, Any], archive: zipfile.ZipFile, root: str) -> None:
    """Raise PermissionRefused for the first refused permission the manifest asks for."""
    asked = _strings(manifest, "permissions", "optional_permissions")
    for permission in BLOCKED_PERMISSIONS:
        if permission in asked:
            raise PermissionRefused(f"the '{permission}' permission", _WHY.get(permission, _AROUND))
    patterns = asked | _strings(manifest, "host_permissions", "optional_host_permissions")
    for script in manifest.get("content_scripts") or []:
        if isinstance(script, dict):
            patterns |= _strings(script, "matches")
    for pattern in sorted(patterns):
        if pattern.lower().startswith("file:"):
            raise PermissionRefused(
                f"access to '{pattern}'", "a runtime's extensions never read local files."
            )
    if asked & {"declarativeNetRequest", "declarativeNetRequestWithHostAccess"}:
        _check_rules(manifest, archive, root)


_AROUND = "it would let the extension reach around the runtime's isolation."
_WHY = {
    "proxy": "it would let the extension send the browser's traffic around the runtime's egress proxy.",
    "debugger": "it would let the extension drive and read every page through the DevTools protocol.",
    "nativeMessaging": "it would let the extension talk to programs on the engine's host.",
    "management": "it would let the extension turn other extensions on or off.",
    "privacy": "it would let the extension change the WebRTC and network settings the engine sets.",
    "webRequestBlocking": "it would let the extension rewrite or redirect the browser's requests.",
}


def _strings(holder: dict[str, Any], *keys: str) -> set[str]:
    found: set[str] = set()
    for key in keys:
        value = holder.get(key)
        if isinstance(value, list):
            found |= {item for item in value if isinstance(item, str)}
    return found


def _check_rules(manifest: dict[str, Any], archive: zipfile.ZipFile, root: str) -> None:
    resources = (manifest.get("declarative_net_request") or {}).get("rule_resources") or []
    for resource in resources if isinstance(resources, list) else []:
        path = resource.get("path") if isinstance(resource, dict) else None
        if not isinstance(path, str):
            continue
        try:
            info = archive.getinfo(root + path.lstrip("/"))
        except KeyError:
            continue  # Chromium refuses to load an extension whose rules file is missing
        if info.file_size > RULES_MAX_BYTES:
            raise PermissionRefused("a declarativeNetRequest rules file", "it is larger than 5 MB.")
        try:
            rules = json.loads(archive.read(info).decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            continue  # Chromium refuses it too
        for rule in rules if isinstance(rules, list) else []:
            target = _redirect_target(rule)
            if target is not None and _refused_target(*target):
                rule_id = rule.get("id") if isinstance(rule, dict) else None
                raise PermissionRefused(
                    f"'declarativeNetRequest' with a rule (id {rule_id}) redirecting to {target[0]}://{target[1]}",
                    "a runtime's requests may not be redirected to a local, private or refused address.",
                )


def _redirect_target(rule: Any) -> tuple[str, str] | None:
    """(scheme, host) a redirect rule sends requests to, when it names them."""
    action = rule.get("action") if isinstance(rule, dict) else None
    if not isinstance(action, dict) or action.get("type") != "redirect":
        return None
    redirect = action.get("redirect") or {}
    for key in ("url", "regexSubstitution"):
        if isinstance(redirect.get(key), str):
            parts = urlsplit(redirect[key].strip())
            return parts.scheme.lower(), parts.hostname or ""
    transform = redirect.get("transform")
    if isinstance(transform, dict) and (transform.get("host") or transform.get("scheme")):
        return str(transform.get("scheme") or "http").lower(), str(transform.get("host") or "")
    return None


def _refused_target(scheme: str, host: str) -> bool:
    if scheme in SCHEMES_BLOCKED:
        return True
    address = _address(host)
    return address is not None and address_kind(address) is not None


def _address(host: str) -> IpAddress | None:
    """The address a host stands for as Chromium reads it: literals in any IPv4 spelling too."""
    address = known_address(host)
    if address is None and host:
        try:  # 127.1, 0x7f000001, 2130706433: legacy IPv4 forms a URL parser accepts
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return address
