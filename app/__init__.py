"""CFFD Studio's window: PySide6 views and workers over ``cffd_engine``."""
