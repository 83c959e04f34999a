"""Sample data built from known numbers (the reference case of DOMAIN.md, later the simulator)."""
