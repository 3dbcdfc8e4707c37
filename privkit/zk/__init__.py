"""privkit.zk: zero-knowledge commitment helpers (placeholder created by helper G)."""
