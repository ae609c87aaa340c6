"""Let a superseded state go at once, instead of in one of the garbage collector's full passes.

Every state write fires a state_changed event, and the event's context points back to it
(`Context.origin_event`): a reference cycle per write that only a full collection frees. With
thousands of devices reporting, full collections grow to seconds with the heap, and Home
Assistant stands still while one runs (README, Performance). Once an entity writes again, its
previous state's event is history; dropping its context's reference to it lets reference
counting free both straight away. Only the event of the state's own write is let go: a context
that came from elsewhere (a service call, an automation) keeps its origin.
"""

from __future__ import annotations

from homeassistant.core import State


def release_superseded(state: State | None) -> None:
    """Break the cycle between a state about to be replaced and the event that wrote it."""
    if state is None:
        return
    context = state.context
    event = context.origin_event
    if event is not None and event.data.get("new_state") is state:
        context.origin_event = None
