"""The guest half: recipe loading, detection, preflight, diagnosis, script runners, steps."""
