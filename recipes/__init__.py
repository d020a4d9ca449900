"""Data shipped with fipswizard: platform facts tables, guest OS recipes, example recipes.

Installed as the package `fipswizard_recipes`; read with importlib.resources.
"""
