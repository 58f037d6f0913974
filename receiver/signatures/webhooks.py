"""Standard Webhooks (`webhook-*` headers) and Svix (`svix-*`): one construction, two names.

`{prefix}-signature` holds space-separated `v1,<base64>` entries, any of which may match:
HMAC-SHA256 over "{id}.{timestamp}.{body}" keyed with the base64 secret after `whsec_`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence

from receiver.model import RawRequest
from receiver.signatures.common import (
    NO_SECRETS,
    OK,
    SignatureContext,
    SignatureResult,
    fail,
    same,
    stale,
    unix_seconds,
    utf8,
)


def verify_standard_webhooks(
    request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """`webhook-id`, `webhook-timestamp`, `webhook-signature` (the Standard Webhooks spec)."""
    return _verify(request, secrets, context, ("webhook",))


def verify_svix(
    request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """`svix-id`, `svix-timestamp`, `svix-signature`; the `webhook-*` names too, as Svix's SDK
    accepts them (one family per request: names are never mixed)."""
    return _verify(request, secrets, context, ("svix", "webhook"))


def _verify(
    request: RawRequest,
    secrets: Sequence[str],
    context: SignatureContext,
    prefixes: tuple[str, ...],
) -> SignatureResult:
    if not secrets:
        return NO_SECRETS
    prefix = next(
        (p for p in prefixes if request.header(f"{p}-signature") is not None), prefixes[0]
    )
    names = (f"{prefix}-id", f"{prefix}-timestamp", f"{prefix}-signature")
    msg_id, stamp, signatures = (request.header(name) for name in names)
    missing = [
        name
        for name, value in zip(names, (msg_id, stamp, signatures), strict=True)
        if value is None
    ]
    if missing or msg_id is None or stamp is None or signatures is None:
        return fail(f"missing {', '.join(missing)}")
    stamp = stamp.strip()
    when = unix_seconds(stamp)
    if when is None:
        return fail(f"{prefix}-timestamp is not a unix time")
    if reason := stale(when, context, f"{prefix}-timestamp"):
        return fail(reason)
    message = utf8(f"{msg_id}.{stamp}.") + request.body
    given = [
        value
        for version, _, value in (e.partition(",") for e in signatures.split())
        if version == "v1"
    ]
    if not given:
        return fail(f"{prefix}-signature has no v1 entry")
    keys = [key for key in map(secret_key, secrets) if key is not None]
    if not keys:
        return fail("no signing secret is valid base64")
    for key in keys:
        expected = base64.b64encode(hmac.new(key, message, "sha256").digest()).decode("ascii")
        if any(same(value, expected) for value in given):
            return OK
    return fail(f"{prefix}-signature does not match")


def secret_key(secret: str) -> bytes | None:
    """The HMAC key: base64 after an optional `whsec_` prefix (missing padding tolerated)."""
    encoded = secret.strip().removeprefix("whsec_")
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
