"""Per-turn costs of Rasa 3.6 removed in the Rasa process (found with py-spy, docs/BENCHMARKS.md).

`install()` is called by bot/channels.py when Rasa creates the channels, so it applies to `loket run`,
the tests' servers and the benchmark, and never to training. Each patch keeps Rasa's behaviour:

- action-server replies are checked with a jsonschema validator built once (Rasa builds and re-checks
  the schema on every reply: ~30 % of its busy time);
- the gemeente slot mapping is not called when the message cannot change the gemeente
  (bot/context.py, the same predicate the action uses);
- TED's prediction is kept per state window: for a trained model it depends only on the featurised
  states it reads (the last `max_history` turns), and many conversations pass the same states.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from bot.context import SLOT, needs_gemeente_extraction

GEMEENTE_MAPPING_ACTION = "action_extract_gemeente"
TED_CACHE_SIZE = 4096


def install() -> None:
    import rasa.core.actions.action as rasa_action
    from rasa.core.policies.ted_policy import TEDPolicy

    if getattr(rasa_action, "_loket_speedups", False):
        return
    _install_validator(rasa_action.RemoteAction)
    _install_mapping_skip(rasa_action.ActionExtractSlots)
    TEDPolicy.predict_action_probabilities = cached_prediction(TEDPolicy.predict_action_probabilities)
    rasa_action._loket_speedups = True


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
    """bot.context's predicate on Rasa's own tracker (the action reads the SDK's copy of it)."""
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


# --- TED predictions ------------------------------------------------------------------------------


def cached_prediction(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap TEDPolicy.predict_action_probabilities with a cache keyed on the states TED reads."""
    from rasa.core.policies.policy import PolicyPrediction

    def predict(self: Any, tracker: Any, domain: Any, rule_only_data: dict | None = None,
                precomputations: Any = None, **kwargs: Any) -> Any:
        # The user's text enters the prediction only with end-to-end stories (none here); then the
        # states are not the whole input, so no caching.
        if getattr(self, "only_e2e", False) or "text" in (getattr(self, "fake_features", None) or {}):
            return original(self, tracker, domain, rule_only_data, precomputations, **kwargs)
        states = self._prediction_states(tracker, domain, use_text_for_last_user_input=False,
                                         rule_only_data=rule_only_data)
        key = json.dumps(states, sort_keys=True, default=str)
        cache: OrderedDict[str, Any] = self.__dict__.setdefault("_loket_cache", OrderedDict())
        hit = cache.get(key)
        if hit is None:
            hit = original(self, tracker, domain, rule_only_data, precomputations, **kwargs)
            if hit.events or hit.optional_events:  # events belong to one conversation: no reuse
                return hit
            cache[key] = hit
            if len(cache) > TED_CACHE_SIZE:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        # The ensemble zeroes a rejected action in place: every caller gets its own list.
        return PolicyPrediction(list(hit.probabilities), hit.policy_name, hit.policy_priority,
                                is_end_to_end_prediction=hit.is_end_to_end_prediction,
                                is_no_user_prediction=hit.is_no_user_prediction,
                                hide_rule_turn=hit.hide_rule_turn,
                                action_metadata=hit.action_metadata)

    predict._loket_original = original
    return predict
