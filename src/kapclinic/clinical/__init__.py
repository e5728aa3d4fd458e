"""The clinic's knowledge: pure Python (and numpy). No Django, no I/O beyond its own data files."""
