"""The tester pages: server-rendered, progressively enhanced with htmx.

Each module serves one area of a project and declares its own ``urlpatterns``; the app's
``urls.py`` joins them under the ``testing`` namespace at ``/testing/``.
"""
