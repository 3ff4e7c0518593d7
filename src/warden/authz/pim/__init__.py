"""Privileged Identity Management for Azure RBAC roles: eligible and time-bound active role
assignments, activation policies, approvals and alerts, with Microsoft.Authorization's ARM shapes."""
