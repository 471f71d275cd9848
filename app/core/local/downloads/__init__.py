"""Model downloads: the resumable transfer, the hashing writer and the queue that survives restarts.
May use foundation and the rest of local (hub, GGUF reader, starter)."""
