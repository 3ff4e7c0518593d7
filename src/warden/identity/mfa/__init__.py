"""Multi-factor authentication primitives: pure functions, no storage or HTTP."""
