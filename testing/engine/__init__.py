"""The API test engine: runs a scenario given as plain data and reports to a sink.

It imports nothing of ``testing.models`` (an import-linter contract): the service layer
(``testing.services.runs``) turns a run into plain data (``testing.engine.spec``), with
secrets unsealed only in the worker, and hands the engine a sink that persists results and
checkpoints. The engine can be tested and benchmarked without a database.

- ``spec``: the plain data of a scenario run (steps, variable layers, databases, settings).
- ``variables``: the variable pool with its layers and the origin of every value;
  ``{{name}}`` and ``{{fn(args)}}`` rendering; ``functions`` the built-in helpers.
- ``checks``: the comparators of assertions; ``extract``: reading values out of a response.
- ``http``: HTTP steps on the guarded pooled client (``core.outbound``).
- ``sql``: database steps with bind parameters.
- ``runner``: the step loop, retries, checkpoints, pause and terminate.
"""
