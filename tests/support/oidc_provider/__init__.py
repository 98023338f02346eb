"""A real OpenID provider for the single sign-on tests: django-oauth-toolkit in a small Django
project of its own, run in its own process on loopback (`OidcProvider` in tests/support/oidc.py).

Users sign in on its page with a password; the ID token and userinfo carry `preferred_username`,
`email` and `groups` (their Django groups here). `POST /test/users/<name>/` (with the process's
own token) sets a user's password and groups, which is how a test changes someone's groups.
"""
