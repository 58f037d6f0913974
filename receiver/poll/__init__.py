"""The poller: asks providers' status APIs about the messages whose fate is uncertain.

`poller` (every key, in a loop or once; the role), `rounds` (one key's round: schedule, claim,
ask, store, reschedule), `schedule` (when next: pure), `gate` (rate limit, circuit breaker,
in-flight bound per key), `client` (one request with timeouts, retries and back-off),
`summary` (what a run did), `responses` (stored poll rows back to the adapters' `parse`). The
requests and their parsing are the adapters' (`receiver/adapters/_poll.py`).
"""
