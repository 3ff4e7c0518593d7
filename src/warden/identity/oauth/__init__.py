"""The OAuth2 / OpenID Connect provider: authorize and sign-in pages, grants, device code, SSO.

One module per concern; ``routes`` wires them to HTTP. Bearer values (codes, refresh tokens,
device codes, session cookies) are stored only as SHA-256 hashes.
"""
