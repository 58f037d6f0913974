from dlrecon.app import build_app
from receiver.http import openapi
from tests.support import make_settings


def test_spec_matches_the_routes() -> None:
    app = build_app(make_settings(), "postgresql://unused/x")
    spec = openapi.document(app.router)
    routed = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/v1")
        and route.method != "HEAD"
    }
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert routed == documented
