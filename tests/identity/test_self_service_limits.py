"""The per-IP sliding window in front of the self-service password reset API."""

from __future__ import annotations

from warden.identity.self_service_routes import RateLimiter


def test_window_fills_refuses_and_slides() -> None:
    limiter = RateLimiter(3, 60.0)
    assert [limiter.allow("192.0.2.1", now=t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert limiter.allow("192.0.2.2", now=3), "another address has its own window"
    assert not limiter.allow("192.0.2.1", now=59.9)
    assert limiter.allow("192.0.2.1", now=60.5), "the first request left the window"
    # Refused requests are not counted, so a client that keeps hammering is let in as the window slides.
    assert limiter.allow("192.0.2.1", now=61.5) and not limiter.allow("192.0.2.1", now=61.6)
