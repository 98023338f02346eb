"""The vault: login secrets (password, TOTP seed) encrypted at rest, and the rules around them.

Plaintext secrets exist only in memory, for the length of one call that needs them (reveal,
vault.fill, vault.read, a TOTP code); they are never logged, never in an update or an event.
"""
