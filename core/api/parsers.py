"""The JSON parser of every API request: strict JSON, nested at most ``API_JSON_MAX_DEPTH``.

DRF's own parser hands the body to ``json.load``, whose recursion a 2 KB body of nested
arrays exhausts (a ``RecursionError``, a 500). This one measures the depth first
(``core.json``) and refuses a deeper body with a 400 in the API's error format, as it does
NaN and Infinity, which are not JSON.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant

from core import json as safe_json


class JSONParser(parsers.JSONParser):
    """Parse ``application/json`` bodies with a cap on nesting depth."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            return safe_json.loads(
                raw, max_depth=settings.API_JSON_MAX_DEPTH, parse_constant=strict_constant
            )
        except safe_json.TooDeep as exc:
            raise ParseError(
                _("The JSON body nests deeper than %(depth)d levels.") % {"depth": exc.max_depth}
            ) from None
        except ValueError as exc:
            raise ParseError(_("JSON parse error: %(error)s") % {"error": exc}) from None
