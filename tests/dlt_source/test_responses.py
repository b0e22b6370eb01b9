"""Decoding a page: orjson on the bytes, requests' own decoder for what orjson refuses."""

from __future__ import annotations

import pytest
from requests import Response
from requests.utils import get_encoding_from_headers

from analytics_provider.dlt_source.responses import _decode


def _response(body: bytes, content_type: str = "application/json") -> Response:
    response = Response()
    response.status_code = 200
    response._content = body
    response.headers["Content-Type"] = content_type
    response.encoding = get_encoding_from_headers(response.headers)  # as requests sets it
    return response


def test_utf8_bodies_decode_with_their_text_intact() -> None:
    body = '{"items": [{"login": "zoë", "id": 7}], "next_page_token": null}'.encode()
    assert _decode(_response(body)) == {"items": [{"login": "zoë", "id": 7}], "next_page_token": None}


@pytest.mark.parametrize(
    ("body", "content_type", "check"),
    [
        ('{"name": "café"}'.encode("latin-1"), "application/json; charset=iso-8859-1", lambda v: v["name"] == "café"),
        # valid UTF-8 bytes, but the server says latin-1: read as it says, as requests would
        ('{"name": "café"}'.encode(), "application/json; charset=latin-1", lambda v: v["name"] == "cafÃ©"),
        (b'{"value": 1180591620717411303424}', "application/json", lambda v: v["value"] == 2**70),
    ],
    ids=["declared-latin-1", "utf8-bytes-declared-latin-1", "integer-past-64-bits"],
)
def test_what_orjson_refuses_still_decodes_as_requests_would(body: bytes, content_type: str, check: object) -> None:
    assert check(_decode(_response(body, content_type)))  # type: ignore[operator]


@pytest.mark.parametrize("body", [b"", b'{"items": [', b"<html>bad gateway</html>"], ids=["empty", "truncated", "html"])
def test_a_body_that_is_not_json_raises_a_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        _decode(_response(body))
