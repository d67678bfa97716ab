"""Tunables of the marketing domain, read from the environment."""

from csintegration.conf import AppSettings, Setting

conf = AppSettings(
    MARKETING_ENROLMENT_EVENT_CHUNK=Setting(
        int, 1000, "customer ids per campaign_members_enrolled event (at most 1000)"
    ),
    MARKETING_ESTIMATE_MIN_HISTORY=Setting(
        int, 3, "finished campaigns of a type needed before its estimate comes from history, not the prior"
    ),
    MARKETING_MAX_CAMPAIGN_SEGMENTS=Setting(int, 20, "segments one campaign may target"),
    MARKETING_COMPARISON_TRACK_SECONDS=Setting(
        int, 300, "how often later entrants of an open campaign's segments join its comparison group"
    ),
    MARKETING_COMPLETION_CHECK_SECONDS=Setting(
        int, 300, "how often campaigns past their end time are completed"
    ),
    MARKETING_SEGMENT_PREVIEW_ROWS=Setting(int, 10, "members a segment's preview lists in the admin"),
    MARKETING_JOURNEY_HISTORY_LIMIT=Setting(int, 100, "stays in stages a journey status lists, newest first"),
)
