"""Local models: the llama.cpp backend, GGUF reading, fit, the hub, downloads, the catalog.
May use foundation and chat's backend interface; never providers or billing."""
