"""Identity Protection's risk detection engine: pure functions over sign-in records.

Detectors take Graph ``signIn`` records (dicts) and reference data (IP locations, anonymizing
IPs, leaked password hashes, loaded from files the admin provides) and return ``Detection``
values named with Azure's ``riskEventType`` spellings. Nothing here touches the database, HTTP or
settings objects beyond reading the three file paths; ``warden.identity.identity_protection`` stores
the results.
"""
