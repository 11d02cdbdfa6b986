"""The Arrow schema of every metric file, each column with the description the UI shows."""

from __future__ import annotations

import pyarrow as pa

from diga_assets.api.records import UTC_MICROS


def _field(name: str, type_: pa.DataType, doc: str, *, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


_DAY = _field("day", pa.date32(), "The partition day: created_date in the partition time zone.", nullable=False)
_AGENT = _field("agent_id", pa.string(), "The agent that handled the calls; NULL groups the calls no agent handled.")
_CALL_TYPE = _field("call_type", pa.string(), "The calls' direction (the API's `type`: inbound or outbound).")
_TOTAL = _field("total_calls", pa.int64(), "Calls in the group.", nullable=False)
_PARTIAL = _field(
    "partial",
    pa.bool_(),
    "True when the day was fetched before it ended: the day so far (today's refresh). The fetch after "
    "midnight makes the day whole and its metrics final.",
    nullable=False,
)
_ENDED = "completed + failed + no_answer + transferred + voicemail"
_RATE_BASE = f"{_ENDED} (NULL when no call ended)"


def _count(outcome: str, column: str | None = None) -> pa.Field:
    return _field(column or outcome, pa.int64(), f"Calls whose outcome is {outcome}.", nullable=False)


def _rate(name: str, outcome: str) -> pa.Field:
    return _field(name, pa.float64(), f"Calls whose outcome is {outcome}, divided by {_RATE_BASE}.")


CALL_OUTCOME_RATES_SCHEMA = pa.schema(
    [
        _DAY,
        _AGENT,
        _CALL_TYPE,
        _TOTAL,
        _count("completed"),
        _count("failed"),
        _count("no_answer"),
        _count("transferred"),
        _count("voicemail"),
        _field("unfinished", pa.int64(), "Calls still dialing, queued or in progress when fetched.", nullable=False),
        _field(
            "other_status",
            pa.int64(),
            "Calls whose (status, end_reason) the outcome map does not know.",
            nullable=False,
        ),
        _rate("completion_rate", "completed"),
        _rate("failure_rate", "failed"),
        _rate("no_answer_rate", "no_answer"),
        _rate("transfer_rate", "transferred"),
        _rate("voicemail_rate", "voicemail"),
        _PARTIAL,
    ]
)

CALL_DURATION_STATS_SCHEMA = pa.schema(
    [
        _DAY,
        _AGENT,
        _CALL_TYPE,
        _field("calls_with_duration", pa.int64(), "Calls in the group with a duration (ended calls).", nullable=False),
        _field("avg_duration_s", pa.float64(), "Mean duration in seconds."),
        _field("median_duration_s", pa.float64(), "Median duration in seconds (continuous: interpolated)."),
        _field("p90_duration_s", pa.float64(), "90th percentile of duration in seconds (continuous: interpolated)."),
        _field("max_duration_s", pa.int64(), "Longest duration in seconds."),
        _field("total_duration_s", pa.int64(), "Sum of durations in seconds."),
        _PARTIAL,
    ]
)

AGENT_VERSION_OUTCOMES_SCHEMA = pa.schema(
    [
        _DAY,
        _AGENT,
        _field("agent_version_id", pa.string(), "The agent version that handled the calls (NULL when none)."),
        _TOTAL,
        _field("ended_calls", pa.int64(), f"Calls that ended: {_ENDED}.", nullable=False),
        _count("completed", "completed_calls"),
        _rate("completion_rate", "completed"),
        _field(
            "completion_rate_low",
            pa.float64(),
            "Lower bound of the completion rate's 95% Wilson interval (NULL when no call ended).",
        ),
        _field(
            "completion_rate_high",
            pa.float64(),
            "Upper bound of the completion rate's 95% Wilson interval (NULL when no call ended).",
        ),
        _rate("transfer_rate", "transferred"),
        _field("median_duration_s", pa.float64(), "Median duration in seconds of the calls with one (continuous)."),
        _PARTIAL,
    ]
)

PHONE_ASSIGNMENT_TIMELINE_SCHEMA = pa.schema(
    [
        _field("phone_id", pa.string(), "The phone register id.", nullable=False),
        _field("number", pa.string(), "The phone number (as in the stretch's latest snapshot)."),
        _field("nickname", pa.string(), "The phone's nickname (as in the stretch's latest snapshot)."),
        _field("status", pa.string(), "The phone's status during the stretch.", nullable=False),
        _field("inbound_agent_id", pa.string(), "The agent answering inbound calls during the stretch."),
        _field("outbound_agent_id", pa.string(), "The agent placing outbound calls during the stretch."),
        _field("scheduled_release_at", UTC_MICROS, "The release the API had scheduled (stretch's latest snapshot)."),
        _field(
            "valid_from",
            UTC_MICROS,
            "Start of the stretch: assigned_at / released_at when the API stamps "
            "the change, else the first snapshot showing it.",
            nullable=False,
        ),
        _field("valid_to", UTC_MICROS, "Start of the next stretch; NULL for the stretch that holds now."),
        _field("first_observed_at", UTC_MICROS, "The first snapshot showing the stretch.", nullable=False),
        _field("last_observed_at", UTC_MICROS, "The last snapshot showing the stretch.", nullable=False),
    ]
)

CALL_END_REASONS_SCHEMA = pa.schema(
    [
        _DAY,
        _AGENT,
        _CALL_TYPE,
        _field("status", pa.string(), "The status the API reported.", nullable=False),
        _field("end_reason", pa.string(), "The end reason the API reported, as it came (NULL when none)."),
        _field("calls", pa.int64(), "Calls with this status and end reason.", nullable=False),
        _field("outcome", pa.string(), "The outcome the outcome map gives these calls.", nullable=False),
        _field(
            "mapped_by",
            pa.string(),
            "Which rule of the outcome map gave the outcome: end_reason (a row names this status and end "
            "reason), status (the status's default row) or none (the status is unmapped: other).",
            nullable=False,
        ),
        _PARTIAL,
    ]
)

_OF_FINISHED = "divided by finished_calls (NULL when none)"
_OUTBOUND_ONLY = "outbound calls only; NULL for inbound"
_NO_TARIFF = "NULL without DIGA_TARIFF, or for a call type it does not price"

CALL_KPIS_SCHEMA = pa.schema(
    [
        _DAY,
        _AGENT,
        _CALL_TYPE,
        _TOTAL,
        _field("finished_calls", pa.int64(), f"Calls that ended: {_ENDED}.", nullable=False),
        _field(
            "contained_calls",
            pa.int64(),
            "Calls that ended without a handoff and without failing (outcome completed, no_answer or "
            "voicemail, and no transfer in the transcript): the agent dealt with the call itself.",
            nullable=False,
        ),
        _field("containment_rate", pa.float64(), f"contained_calls {_OF_FINISHED}."),
        _field(
            "transferred_calls",
            pa.int64(),
            "Calls that ended handed over: outcome transferred, or a successful transfer tool call in the "
            "transcript (where transcripts were stored when the day was computed).",
            nullable=False,
        ),
        _field(
            "transfers_from_transcripts",
            pa.int64(),
            "Of them, those only the transcript shows (the outcome map did not say transferred); 0 without "
            "transcripts.",
            nullable=False,
        ),
        _field("transfer_rate", pa.float64(), f"transferred_calls {_OF_FINISHED}."),
        _field("attempted_calls", pa.int64(), f"Calls placed that ended ({_OUTBOUND_ONLY})."),
        _field(
            "answered_calls",
            pa.int64(),
            f"Attempted calls a person picked up: outcome completed or transferred ({_OUTBOUND_ONLY}).",
        ),
        _field("answer_rate", pa.float64(), f"answered_calls divided by attempted_calls ({_OUTBOUND_ONLY})."),
        _field("billed_calls", pa.int64(), f"Calls with a duration above 0, which the tariff bills ({_NO_TARIFF})."),
        _field(
            "billed_minutes",
            pa.float64(),
            f"Their minutes as the tariff rounds them: each call's seconds, or every started minute "
            f"whole ({_NO_TARIFF}).",
        ),
        _field(
            "cost",
            pa.decimal128(18, 6),
            "billed_minutes times price_per_minute (rounded half up to a millionth) plus price_per_call per billed "
            f"call, in currency ({_NO_TARIFF}).",
        ),
        _field("currency", pa.string(), f"The tariff's currency, e.g. EUR ({_NO_TARIFF})."),
        _PARTIAL,
    ]
)

REPEAT_CALLERS_SCHEMA = pa.schema(
    [
        _DAY,
        _CALL_TYPE,
        _field(
            "callers",
            pa.int64(),
            "Distinct contacts (contact_identifier: the number or web id, or its keyed hash) with a call that day.",
            nullable=False,
        ),
        _field(
            "repeat_24h",
            pa.int64(),
            "Of them, those with an earlier call of the same type within 24 hours before one of the day's calls.",
            nullable=False,
        ),
        _field("repeat_7d", pa.int64(), "The same within 7 days (includes repeat_24h).", nullable=False),
        _PARTIAL,
    ]
)

CALL_CONCURRENCY_SCHEMA = pa.schema(
    [
        _DAY,
        _field("hour", pa.int64(), "The wall-clock hour in the partition time zone, 0-23.", nullable=False),
        _field("calls_started", pa.int64(), "Calls whose start_time falls in the hour.", nullable=False),
        _field(
            "peak_concurrent",
            pa.int64(),
            "The most calls in progress at any instant of the hour, a call being in progress over "
            "[start_time, end_time); calls started the day before count.",
            nullable=False,
        ),
        _PARTIAL,
    ]
)

_OF_TRANSCRIBED = "over the calls with a transcript (NULL when none has one)"

CALL_CONVERSATION_STATS_SCHEMA = pa.schema(
    [
        _DAY,
        _AGENT,
        _CALL_TYPE,
        _field(
            "finished_calls",
            pa.int64(),
            "Calls of the group that were over when fetched (not dialing, in_queue or in_progress).",
            nullable=False,
        ),
        _field("calls_with_transcript", pa.int64(), "Finished calls with at least one message stored.", nullable=False),
        _field("messages_per_call_avg", pa.float64(), f"Messages per call, mean, {_OF_TRANSCRIBED}."),
        _field("messages_per_call_median", pa.float64(), f"Messages per call, median, {_OF_TRANSCRIBED}."),
        _field("user_turns_avg", pa.float64(), f"Messages with role user per call, mean, {_OF_TRANSCRIBED}."),
        _field("assistant_turns_avg", pa.float64(), f"Messages with role assistant per call, mean, {_OF_TRANSCRIBED}."),
        _field(
            "tool_call_share",
            pa.float64(),
            f"Share of calls with a tool call (a message with role tool or a tool_call), {_OF_TRANSCRIBED}.",
        ),
        _field(
            "first_reply_median_s",
            pa.float64(),
            "Seconds from the call's start_time to its first assistant message, median over the calls "
            "with both (how soon the agent speaks).",
        ),
        _field(
            "hung_up_after_greeting_share",
            pa.float64(),
            f"Share of calls with at most one user message (the caller left after the greeting), {_OF_TRANSCRIBED}.",
        ),
        _field(
            "response_latency_p50_s",
            pa.float64(),
            "Seconds from the caller's last message to the agent's reply that follows it, median over every "
            "reply of the group's calls (how long the agent takes to answer; NULL without replies).",
        ),
        _field(
            "response_latency_p90_s",
            pa.float64(),
            "The same, 90th percentile (continuous): the slow replies a caller notices.",
        ),
    ]
)
