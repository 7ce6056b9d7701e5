"""The contract: /openapi.json (generated from the routes' declarations) and /docs (Swagger UI).

Swagger UI's files come from the flask-swagger-ui package (its `dist` folder, the Swagger UI release its
version names, pinned by the lock file) and are served by the api itself: the page works offline and no
request leaves the reader's machine for it."""

from __future__ import annotations

import html
from importlib.metadata import version
from importlib.resources import files

from flask import Blueprint, Response, abort, current_app, send_from_directory, url_for
from flask.typing import ResponseReturnValue

from snapinfra_api.http.contract import Body, documented
from snapinfra_api.http.openapi import build_document
from snapinfra_api.http.request import deps

bp = Blueprint("contract", __name__)
EXTENSION = "snapinfra_openapi"
SWAGGER_UI_DIST = files("flask_swagger_ui") / "dist"
SWAGGER_UI_VERSION = version("flask-swagger-ui")  # the package's version is the Swagger UI release it ships
ASSETS = {  # the only files /docs/assets serves, with their types
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "docs-init.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="icon" type="image/png" href="{favicon}">
  <link rel="stylesheet" href="{css}">
</head>
<body>
  <div id="swagger-ui" data-spec="{spec}"></div>
  <script src="{bundle}"></script>
  <script src="{init}"></script>
</body>
</html>
"""

# validatorUrl null: Swagger UI would otherwise send the document to an online validator for a badge.
INIT = """window.onload = () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: root.dataset.spec, dom_id: "#swagger-ui", validatorUrl: null });
};
"""


@bp.get("/")
def index() -> ResponseReturnValue:
    """Not an api operation: a person who opens the root is pointed at the documentation."""
    return {
        "service": "snapinfra-api",
        "docs": url_for("contract.docs"),
        "openapi": url_for("contract.openapi"),
        "message": "Snapinfra API: the interactive documentation is at /docs, the OpenAPI document at /openapi.json",
    }


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
    def asset(name: str) -> str:
        return html.escape(url_for("contract.docs_asset", name=name, v=SWAGGER_UI_VERSION))

    page = PAGE.format(
        title="Snapinfra API",
        favicon=asset("favicon-32x32.png"),
        css=asset("swagger-ui.css"),
        bundle=asset("swagger-ui-bundle.js"),
        init=asset("docs-init.js"),
        spec=html.escape(url_for("contract.openapi")),
    )
    return Response(page, mimetype="text/html")


@bp.get("/docs/assets/<name>")
def docs_asset(name: str) -> ResponseReturnValue:
    """Not an api operation: the static files of the /docs page."""
    mimetype = ASSETS.get(name)
    if mimetype is None:
        abort(404)
    if name == "docs-init.js":
        response = Response(INIT, mimetype=mimetype)
    else:
        response = send_from_directory(str(SWAGGER_UI_DIST), name, mimetype=mimetype, max_age=86400)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
