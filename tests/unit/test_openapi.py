from receiver.http.app import create_app
from receiver.http.openapi import SPEC
from tests.support import make_settings


def test_spec_matches_the_routes() -> None:
    app = create_app(make_settings(), "postgresql://unused/x")
    routed = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/v1")
        and route.method != "HEAD"
    }
    documented = {(path, method) for path, ops in SPEC["paths"].items() for method in ops}
    assert routed == documented
