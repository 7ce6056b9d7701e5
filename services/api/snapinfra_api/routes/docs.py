"""The contract: /openapi.json (generated from the routes' declarations) and /docs (Swagger UI)."""

from __future__ import annotations

import html

from flask import Blueprint, Response, current_app
from flask.typing import ResponseReturnValue

from snapinfra_api.contract import Body, documented
from snapinfra_api.openapi import build_document
from snapinfra_api.routes.common import deps

bp = Blueprint("contract", __name__)
EXTENSION = "snapinfra_openapi"
SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"  # loaded by the reader's browser, not by the api

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{assets}/swagger-ui-bundle.js" crossorigin></script>
  <script>
    window.onload = () => {{ window.ui = SwaggerUIBundle({{ url: "{spec}", dom_id: "#swagger-ui" }}); }};
  </script>
</body>
</html>
"""


@bp.get("/openapi.json")
@documented(
    "The OpenAPI 3.1 document of this API",
    tag="contract",
    responses={200: Body("application/json", "the OpenAPI document")},
    public=True,
)
def openapi() -> ResponseReturnValue:
    document = current_app.extensions.get(EXTENSION)
    if document is None:  # built once per app: the routes do not change while it runs
        document = build_document(current_app, auth_mode=deps().settings.auth_mode)
        current_app.extensions[EXTENSION] = document
    return document


@bp.get("/docs")
@documented(
    "Interactive documentation (Swagger UI) of /openapi.json",
    tag="contract",
    responses={200: Body("text/html", "a page that renders the OpenAPI document")},
    public=True,
)
def docs() -> ResponseReturnValue:
    page = PAGE.format(title="Snapinfra API", assets=html.escape(SWAGGER_UI), spec="/openapi.json")
    return Response(page, mimetype="text/html")
