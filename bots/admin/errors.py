"""Error answers that cannot themselves fail, and database range errors answered as the client's mistake.

FastAPI's validation answer echoes the input, and Starlette encodes it as UTF-8: a lone surrogate in
a JSON string (valid JSON, not valid Unicode) turned a 422 into a 500. A number past what the
database column holds (a tenant id of 10^30, a limit of 2^63) reached PostgreSQL and came back as
a DataError, also a 500. Both are the caller's mistakes and are answered as such.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DataError

log = logging.getLogger(__name__)


def json_answer(body: object, status_code: int) -> Response:
    """JSON with every non-ASCII character escaped, so no input can make the answer unencodable."""
    text = json.dumps(jsonable_encoder(body), ensure_ascii=True, allow_nan=False, default=str)
    return Response(text, status_code=status_code, media_type="application/json")


async def _invalid(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
    return json_answer({"detail": errors}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _out_of_range(request: Request, exc: Exception) -> Response:
    log.info("%s %s: the database refused a value (%s)", request.method, request.url.path, type(exc).__name__)
    return json_answer({"detail": "a value is out of range for what it names"}, status.HTTP_422_UNPROCESSABLE_CONTENT)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(DataError, _out_of_range)
    # SQLite's driver refuses an integer past 64 bits before the database sees it.
    app.add_exception_handler(OverflowError, _out_of_range)
