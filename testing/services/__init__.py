"""Writes of the test domain with side effects, called alike by the pages, the admin and
the API: testing a database connection, exporting and importing scenarios, ordering steps.
"""
