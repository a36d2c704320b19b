"""Statistics of the search: signal regions, background fit, BumpHunter, pyhf limits."""
