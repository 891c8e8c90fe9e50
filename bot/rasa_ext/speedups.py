"""Per-turn costs of Rasa 3.6 removed in the Rasa process (found with py-spy, docs/BENCHMARKS.md).

`install()` is called by bot/rasa_ext/channels.py when Rasa creates the channels, so it applies to
`loket run`, the tests' servers and the benchmark, and never to training. Each patch keeps Rasa's
behaviour:

- action-server replies are checked with a jsonschema validator built once (Rasa builds and re-checks
  the schema on every reply: ~30 % of its busy time);
- the gemeente slot mapping is not called when the message cannot change the gemeente
  (bot/conversation/context.py, the same predicate the action uses);
- calls to the action server reuse one HTTP client session with kept-alive connections (Rasa opened a
  new session and TCP connection for every action call).

Both replace private Rasa methods, so they are applied only on the Rasa version they were written and
tested for (PATCHED_FOR); on another version they are left out with a warning. LOKET_RASA_PATCHES=false
turns them off.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.conversation.context import SLOT, needs_gemeente_extraction

log = logging.getLogger(__name__)

GEMEENTE_MAPPING_ACTION = "action_extract_gemeente"
PATCHED_FOR = "3.6.21"


def install(enabled: bool | None = None, rasa_version: str | None = None) -> bool:
    """Apply the patches once per process; False when they are off or the Rasa version differs."""
    import rasa
    import rasa.core.actions.action as rasa_action

    if enabled is None:
        from bot.settings import get_settings

        enabled = get_settings().rasa_patches
    if not enabled:
        log.info("Rasa speed-ups off (LOKET_RASA_PATCHES=false)")
        return False
    version = rasa_version or rasa.__version__
    if version != PATCHED_FOR:
        log.warning("Rasa speed-ups not applied: written for Rasa %s, this is %s", PATCHED_FOR, version)
        return False
    if getattr(rasa_action, "_loket_speedups", False):
        return True
    _install_validator(rasa_action.RemoteAction)
    _install_mapping_skip(rasa_action.ActionExtractSlots)
    _install_kept_session()
    rasa_action._loket_speedups = True
    return True


# --- one HTTP session per endpoint ------------------------------------------------------------------

# Shorter than the action server's keep-alive (Sanic: 5 s), so the client, not the server, closes an
# idle connection and a request never goes out on a connection the server is closing.
KEEPALIVE_S = 2.0


class _Kept:
    """`async with endpoint.session() as s` without closing s at the end."""

    def __init__(self, session: Any) -> None:
        self._session = session

    async def __aenter__(self) -> Any:
        return self._session

    async def __aexit__(self, *exc: Any) -> bool:
        return False


def _install_kept_session() -> None:
    import asyncio

    import aiohttp
    import rasa.utils.endpoints as endpoints

    def session(self: Any) -> Any:
        loop = asyncio.get_running_loop()
        kept = self.__dict__.get("_loket_session")
        if kept is None or kept[0] is not loop or kept[1].closed:
            # what Rasa's EndpointConfig.session builds, plus a connector that keeps connections
            auth = (aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
                    if self.basic_auth else None)
            fresh = aiohttp.ClientSession(
                headers=self.headers, auth=auth,
                timeout=aiohttp.ClientTimeout(total=endpoints.DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S))
            kept = (loop, fresh)
            self.__dict__["_loket_session"] = kept
        return _Kept(kept[1])

    endpoints.EndpointConfig.session = session


# --- action-server replies ------------------------------------------------------------------------


def _install_validator(remote: Any) -> None:
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for

    schema = remote.action_response_format_spec()
    cls = validator_for(schema)  # the draft jsonschema.validate would pick
    cls.check_schema(schema)
    validator = cls(schema)

    def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        error = next(iter(validator.iter_errors(result)), None)
        if error is not None:
            raise ValidationError(f"{error.message}. Failed to validate Action server response "
                                  f"from API.")
        return True

    remote._validate_action_result = validate_action_result


# --- the gemeente slot mapping --------------------------------------------------------------------


def _install_mapping_skip(extract: Any) -> None:
    original = extract._execute_custom_action

    async def execute_custom_action(self: Any, mapping: dict[str, Any], executed: set,
                                    output_channel: Any, nlg: Any, tracker: Any,
                                    domain: Any) -> tuple[list, set]:
        if mapping.get("action") == GEMEENTE_MAPPING_ACTION and not gemeente_mapping_needed(tracker):
            return [], executed
        return await original(self, mapping, executed, output_channel, nlg, tracker, domain)

    extract._execute_custom_action = execute_custom_action


def gemeente_mapping_needed(tracker: Any) -> bool:
    """bot.conversation.context's predicate on Rasa's own tracker (the action reads the SDK's copy of it)."""
    from rasa.shared.core.events import UserUttered

    message = tracker.latest_message
    metadata = getattr(message, "metadata", None)
    if not isinstance(metadata, dict) or not metadata:
        metadata = next((e.metadata for e in reversed(tracker.events)
                         if isinstance(e, UserUttered) and isinstance(e.metadata, dict)
                         and e.metadata), {})
    return needs_gemeente_extraction(
        intent=(message.intent or {}).get("name") or "" if message else "",
        entity_names=[e.get("entity") for e in (message.entities or [])] if message else [],
        active_form=tracker.active_loop_name,
        requested_slot=tracker.get_slot("requested_slot"),
        current=tracker.get_slot(SLOT),
        metadata=metadata,
    )
