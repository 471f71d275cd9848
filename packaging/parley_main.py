"""PyInstaller entry point: the same `parley` command as the installed console script."""

from app.main import main

if __name__ == "__main__":
    raise SystemExit(main())
