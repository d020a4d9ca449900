"""The engine: plan, steps, the runner, journal, rollback, events, the run report and previews.

It imports neither front end (`fipswizard.headless`, `screens`) nor textual.
"""
