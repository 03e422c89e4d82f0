"""Template tags of the tenancy core (``{% load dictionaries %}``)."""
