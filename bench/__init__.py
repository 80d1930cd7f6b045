"""`make bench`: how fast signerd is, measured against its targets (see bench/__main__.py)."""
