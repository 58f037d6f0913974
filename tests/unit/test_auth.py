import pytest

from receiver.errors import AuthenticationFailed, PermissionDenied
from receiver.http import auth
from receiver.settings import Scope
from tests.support import TOKENS, make_settings


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer wrong-token-123"]
)
def test_missing_or_wrong_token_is_401(header: str | None) -> None:
    with pytest.raises(AuthenticationFailed):
        auth.authorize(make_settings(), header, Scope.READ)


def test_scope_is_enforced_and_admin_has_all() -> None:
    s = make_settings()
    assert auth.authorize(s, f"Bearer {TOKENS['read']}", Scope.READ) is not None
    with pytest.raises(PermissionDenied):
        auth.authorize(s, f"Bearer {TOKENS['read']}", Scope.SEND)
    with pytest.raises(PermissionDenied):
        auth.authorize(s, f"Bearer {TOKENS['send']}", Scope.FINANCE)
    for scope in Scope:
        assert auth.authorize(s, f"bearer {TOKENS['admin']}", scope) is not None


def test_unmarked_handlers_need_admin() -> None:
    async def handler() -> None: ...

    assert auth.required_scope(handler) == Scope.ADMIN
