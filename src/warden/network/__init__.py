"""Virtual networks: the resource model, the pure rule engine (``rules``) and Network Watcher operations."""
