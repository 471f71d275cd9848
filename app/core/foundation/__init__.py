"""What every domain stands on: storage, paths, settings, errors, file lock, HTTP, offline mode.
May use the standard library and third-party packages only; never a domain package."""
