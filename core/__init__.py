"""The platform's bottom layer: mechanisms every app shares and that know no app.

Nothing here imports a Django app of the platform; every app may import it.
"""
