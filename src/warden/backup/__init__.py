"""Backup: the chunk store (pure repository format) and, later, vaults, policies, jobs and restore."""
