"""A deterministic synthetic company behind the simulated Diga API.

The world is a pure function of ``(seed, now, sizes)``: two worlds built with the same arguments
serve byte-identical pages, so tests can assert exact results and a demo can be replayed. Time is
part of the model: the world has a clock, calls appear once they are created, end a few minutes
later, and phones move through their life cycle as the clock advances.

:class:`World` owns the clock and the lock and composes the parts, each in its own module:
:mod:`~diga_assets.simulator.company` (agents and known callers),
:mod:`~diga_assets.simulator.phones` (phone life cycles and their listing),
:mod:`~diga_assets.simulator.calls` (one call, derived from a random integer),
:mod:`~diga_assets.simulator.call_log` (every call in order, and its listing) and
:mod:`~diga_assets.simulator.messages` (a call's transcript, built when asked for). Instants and ids
are spelled by :mod:`~diga_assets.simulator.instants`; pages are chosen by
:mod:`~diga_assets.simulator.listing`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from diga_assets.api.spec import CALLS_PATH, PHONES_PATH, live, seed_page
from diga_assets.simulator.call_log import CallLog
from diga_assets.simulator.calls import (
    CURRENT_CALL_STATUSES,
    CURRENT_END_REASONS,
    DOCUMENTED_END_REASONS,
    MADE_UP_END_REASON_OUTCOMES,
    MADE_UP_END_REASONS,
    SEED_CALL_STATUSES,
    CallSynthesizer,
)
from diga_assets.simulator.company import Agent, AgentVersion, Company, StatusModel
from diga_assets.simulator.instants import DAY_US, ONE_US, format_instant, from_us, to_us
from diga_assets.simulator.listing import ListQuery, Page, UnknownCursorError, locate_cursor, select_page
from diga_assets.simulator.messages import EMPTY, NoMessagesError, Transcript, Transcripts, UnknownCallError
from diga_assets.simulator.phones import (
    CURRENT_PHONE_EXTRA_STATUSES,
    SEED_PHONE_STATUSES,
    SIP_MEDIA_ENCRYPTIONS,
    TELEPHONY_PROVIDERS,
    PhoneRegister,
)

__all__ = [
    "CURRENT_CALL_STATUSES",
    "CURRENT_END_REASONS",
    "CURRENT_PHONE_EXTRA_STATUSES",
    "DOCUMENTED_END_REASONS",
    "MADE_UP_END_REASONS",
    "MADE_UP_END_REASON_OUTCOMES",
    "Agent",
    "AgentVersion",
    "ListQuery",
    "NoMessagesError",
    "Page",
    "StatusModel",
    "UnknownCallError",
    "UnknownCursorError",
    "World",
]


class World:
    """A synthetic company whose calls and phones are a deterministic function of seed and clock.

    ``now`` defaults to the current UTC time truncated to the minute, so a demo can backfill real
    dates; tests pass a fixed ``now``. The world holds calls created during the ``days`` days
    before ``now`` and keeps generating new ones as the clock advances. ``status_model`` picks
    what the records follow: ``seed`` the published pages, ``current`` the live document (see
    :mod:`~diga_assets.simulator.calls` and :mod:`~diga_assets.simulator.phones`). Only the
    ``current`` model has transcripts (``GET /v1/call/{id}/message``, see
    :mod:`~diga_assets.simulator.messages`): the published pages of the seed model have no such
    endpoint. ``encoded_cache_size`` bounds how many finished calls keep their encoded JSON; the default
    covers a 30 x 10,000 benchmark world.
    """

    def __init__(
        self,
        seed: int = 7,
        now: datetime | None = None,
        days: int = 30,
        calls_per_day: int = 200,
        status_model: StatusModel = "seed",
        phones: int = 12,
        agents: int = 4,
        encoded_cache_size: int = 300_000,
    ) -> None:
        if status_model not in ("seed", "current"):
            raise ValueError(f"status_model must be 'seed' or 'current', got {status_model!r}")
        if days < 0 or calls_per_day < 0 or phones < 0 or agents < 1:
            raise ValueError("days, calls_per_day and phones must be >= 0 and agents >= 1")
        if now is None:
            now = datetime.now(UTC).replace(second=0, microsecond=0)
        self.seed = seed
        self.days = days
        self.calls_per_day = calls_per_day
        self.status_model: StatusModel = status_model
        self._lock = threading.RLock()
        self._now_us = to_us(now)
        self._window_start_us = self._now_us - days * DAY_US
        _check_generated_values_against_spec()

        t0_us, window_start_us = self._now_us, self._window_start_us
        contacts = max(20, min(5000, days * calls_per_day // 6))
        self._company = Company(seed, t0_us, window_start_us, agents, contacts)
        self._phones = PhoneRegister(seed, t0_us, window_start_us, phones, self._company.agents, status_model)
        synthesizer = CallSynthesizer(self._company, self._phones, status_model)
        self._synthesizer = synthesizer
        self._calls = CallLog(seed, window_start_us, calls_per_day, synthesizer, encoded_cache_size)
        self._calls.generate_through(self._now_us)
        # Transcripts draw from streams named after each call, never from the calls' streams.
        self._transcripts = Transcripts(seed) if status_model == "current" else None

    # -- clock -------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The world's clock; records created after it are not visible yet."""
        with self._lock:
            return from_us(self._now_us)

    @property
    def now_us(self) -> int:
        """The clock as integer microseconds since the epoch."""
        with self._lock:
            return self._now_us

    @property
    def window_start(self) -> datetime:
        """The earliest instant a generated call can have been created."""
        return from_us(self._window_start_us)

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward (never back: served data must not un-happen)."""
        if delta < timedelta(0):
            raise ValueError(f"the clock only moves forward, got {delta}")
        with self._lock:
            self._now_us += delta // ONE_US
            self._calls.generate_through(self._now_us)
            return from_us(self._now_us)

    def advance_to(self, instant: datetime) -> datetime:
        """Move the clock forward to ``instant``; an instant not after the clock leaves it as it is."""
        with self._lock:
            target = to_us(instant)
            if target > self._now_us:
                self._now_us = target
                self._calls.generate_through(self._now_us)
            return from_us(self._now_us)

    # -- stable parts --------------------------------------------------------------------------

    @property
    def agents(self) -> tuple[Agent, ...]:
        """The agents that handle calls, with their published versions and drafts."""
        return self._company.agents

    @property
    def agent_without_versions(self) -> Agent:
        """The agent created in the dashboard that has no version yet (it never handles a call)."""
        return self._company.agent_without_versions

    @property
    def phone_ids(self) -> tuple[str, ...]:
        """Ids of every generated phone, including ones not reserved yet at ``now``."""
        return tuple(p.id for p in self._phones.specs)

    # -- planting ------------------------------------------------------------------------------

    def add_call(self, record: dict[str, Any]) -> None:
        """Plant a raw call, served exactly as given (it may break the spec on purpose).

        It is ordered and date-filtered by its ``created_date`` when that parses; otherwise it is
        served after every other call, ordered by the raw text, and never matches a date filter.
        """
        with self._lock:
            self._calls.add(record)

    def add_phone(self, record: dict[str, Any]) -> None:
        """Plant a raw phone, served exactly as given.

        It is ordered by ``assigned_at`` (else ``created_date``) when that parses, and visible once
        the clock has reached that instant; otherwise it is always visible and served last.
        """
        with self._lock:
            self._phones.add(record)

    def delete_calls(self, call_ids: Iterable[str]) -> int:
        """Delete calls for good, as the dashboard and ``POST /v1/call/bulk-delete`` do (the
        live endpoint's body is not in the published document; tests call this instead).
        Returns how many of ``call_ids`` named a call."""
        with self._lock:
            return sum(self._calls.delete(call_id) for call_id in call_ids)

    def change_call(self, call_id: str, **fields: Any) -> dict[str, Any]:
        """Change a call in place after it may have been fetched (a call that finished, an
        ``end_reason`` or ``agent_version_id`` filled in later): from now on it is served as it
        was at the clock with ``fields`` replaced, and no longer moves on by itself. Returns the
        record as served from now on."""
        with self._lock:
            found = self._calls.find(call_id, self._now_us)
            if found is None:
                raise KeyError(f"no visible call has id {call_id!r}")
            record = dict(found) if isinstance(found, dict) else self._synthesizer.record(found, self._now_us)
            record.update(fields)
            self._calls.replace(call_id, record)
            return record

    # -- views used by tests -------------------------------------------------------------------

    def calls_visible(self) -> list[dict[str, Any]]:
        """Every visible call as it would be served now, by (created instant, id) ascending."""
        with self._lock:
            return self._calls.records(self._now_us)

    def calls_created_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Visible calls created in the half-open interval ``[start, end)``, ascending."""
        with self._lock:
            return self._calls.created_between(to_us(start), to_us(end), self._now_us)

    def phones_visible(self) -> list[dict[str, Any]]:
        """Every visible phone as it would be served now, by (ordering instant, id) ascending."""
        with self._lock:
            return [record for _, _, _, record in self._phones.rows(self._now_us)]

    def agents_dropdown(self) -> list[dict[str, Any]]:
        """``GET /v1/agent/versions-dropdown/dashboard`` as served now (the same in both models)."""
        with self._lock:
            return self._company.agents_dropdown(self._now_us)

    def visible_call_count(self) -> int:
        """How many calls a full listing would return now."""
        with self._lock:
            return self._calls.visible_count(self._now_us)

    # -- listing (used by the HTTP layer) ------------------------------------------------------

    def list_calls(self, query: ListQuery) -> Page:
        """One page of calls for an already validated query."""
        with self._lock:
            return self._calls.page(query, self._now_us)

    def list_phones(self, query: ListQuery) -> Page:
        """One page of phones for an already validated query (date bounds apply to assigned_at)."""
        with self._lock:
            return self._phones.page(query, self._now_us)

    # -- transcripts (the current model only) ---------------------------------------------------

    def call_messages(self, call_id: str) -> list[dict[str, Any]]:
        """A call's transcript as ``GET /v1/call/{id}/message`` serves it now: every message,
        oldest first, in the API's shape (``MessageResponse``).

        ``[]`` when the endpoint answers 404 ``NO_MESSAGES_FOR_CALL`` (a call not answered yet,
        or one with nothing transcribed); a call in progress has the messages created so far.
        Raises :class:`UnknownCallError` when it answers 404 ``CALL_NOT_FOUND``, and
        ``ValueError`` under the seed model, which has no transcripts.
        """
        with self._lock:
            transcript, count = self._transcript_now(call_id)
            # Copies: the records are cached, and a test must not change what is served.
            return [dict(record) for record in transcript.records[:count]]

    def list_call_messages(self, call_id: str, query: ListQuery) -> Page:
        """One page of a call's transcript for an already validated query (no filters, no dates).

        Raises :class:`UnknownCallError` (404 ``CALL_NOT_FOUND``), :class:`NoMessagesError` (404
        ``NO_MESSAGES_FOR_CALL``) or :class:`UnknownCursorError` (a cursor that names no message
        of this transcript now).
        """
        with self._lock:
            transcript, count = self._transcript_now(call_id)
            if count == 0:
                raise NoMessagesError(call_id)
            ids = transcript.ids[:count]
            cursor = locate_cursor(query, lambda value: ids.index(value) if value in ids else None)
            positions, has_more, current_page, total_pages = select_page(query, 0, count, None, cursor)
            return Page(
                data=[transcript.encoded[pos] for pos in positions],
                first_id=ids[positions[0]] if positions else None,
                last_id=ids[positions[-1]] if positions else None,
                has_more=has_more,
                current_page=current_page,
                total_pages=total_pages,
            )

    def calls_without_messages(self) -> list[str]:
        """Ids of the visible calls whose transcript answers 404 ``NO_MESSAGES_FOR_CALL`` now, in
        listing order (``len`` of it is their count). Planted calls are among them.

        Builds every visible call's transcript without keeping any: meant for test-sized worlds.
        """
        with self._lock:
            transcripts = self._require_transcripts()
            now = self._now_us
            ids = []
            for item in self._calls.items(now):
                if isinstance(item, dict):
                    ids.append(item.get("id"))
                elif transcripts.build(item).visible_count(now) == 0:
                    ids.append(item.id)
            return ids

    def _require_transcripts(self) -> Transcripts:
        if self._transcripts is None:
            raise ValueError(
                "the seed status model has no transcripts: its published pages have no "
                "GET /v1/call/{id}/message; build the world with status_model='current'"
            )
        return self._transcripts

    def _transcript_now(self, call_id: str) -> tuple[Transcript, int]:
        """The call's whole transcript and how many of its messages exist now."""
        transcripts = self._require_transcripts()
        found = self._calls.find(call_id, self._now_us)
        if found is None:
            raise UnknownCallError(call_id)
        if isinstance(found, dict):
            return EMPTY, 0  # a planted call has no transcript
        transcript = transcripts.transcript(found)
        return transcript, transcript.visible_count(self._now_us)

    def state(self) -> dict[str, Any]:
        """A summary for the admin endpoint and for humans running a demo."""
        with self._lock:
            return {
                "now": format_instant(self._now_us, 0),
                "seed": self.seed,
                "status_model": self.status_model,
                "window_start": format_instant(self._window_start_us, 0),
                "calls_visible": self._calls.visible_count(self._now_us),
                "phones_visible": len(self._phones.rows(self._now_us)),
                "planted_calls": self._calls.planted_count,
                "planted_phones": len(self._phones.planted),
            }


def _check_generated_values_against_spec() -> None:
    """Fail fast if the values the simulator generates drift from its documents' enums."""
    seed_model = {
        (CALLS_PATH, "CallStatus"): SEED_CALL_STATUSES,
        (CALLS_PATH, "CallType"): {"inbound", "outbound"},
        (CALLS_PATH, "Channel"): {"call", "web"},
        (PHONES_PATH, "PhoneRegisterStatus"): set(SEED_PHONE_STATUSES),
        (PHONES_PATH, "TelephonyProvider"): set(TELEPHONY_PROVIDERS),
    }
    for (path, name), values in seed_model.items():
        unknown = values - seed_page(path).enum_values(name)
        if unknown:
            raise AssertionError(f"generated {name} values {sorted(unknown)} are not in {path}'s published page")
    current_model = {
        "CallStatus": set(CURRENT_CALL_STATUSES),
        "CallType": {"inbound", "outbound"},
        "Channel": {"call", "web"},
        "PhoneRegisterStatus": {*SEED_PHONE_STATUSES, *CURRENT_PHONE_EXTRA_STATUSES},
        "TelephonyProvider": set(TELEPHONY_PROVIDERS),
        "SipMediaEncryption": set(SIP_MEDIA_ENCRYPTIONS),
    }
    for name, values in current_model.items():
        unknown = values - live().enum_values(name)
        if unknown:
            raise AssertionError(f"generated {name} values {sorted(unknown)} are not in the live document")
