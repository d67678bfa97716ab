"""A stand-in for ``domains.marketing.services``: only the two public functions operations calls, with the
signatures both apps agreed on, recording their calls."""

from __future__ import annotations

enrolments: list[dict] = []
moves: list[dict] = []
#: the stages a move may go to (any other is refused, as the journey would)
ALLOWED_STAGES = ["adoption", "expansion", "renewal", "at_risk"]


class JourneyTransitionNotAllowed(Exception):
    def __init__(self, allowed: list[str]) -> None:
        super().__init__(f"Allowed: {', '.join(allowed)}")
        self.allowed = allowed


def reset() -> None:
    enrolments.clear()
    moves.clear()


def campaign_enroll_for_trigger(
    *, customer_id: str, campaign_type: str, trigger_type: str, reason: str
) -> str | None:
    if any(e["customer_id"] == customer_id and e["campaign_type"] == campaign_type for e in enrolments):
        return None  # already enrolled
    enrolments.append(
        {
            "customer_id": customer_id,
            "campaign_type": campaign_type,
            "trigger_type": trigger_type,
            "reason": reason,
        }
    )
    return f"camp_fake{len(enrolments)}"


def journey_move(*, customer_id: str, stage: str, reason: str = "", changed_by: str) -> None:
    if stage not in ALLOWED_STAGES:
        raise JourneyTransitionNotAllowed(list(ALLOWED_STAGES))
    moves.append({"customer_id": customer_id, "stage": stage, "reason": reason, "changed_by": changed_by})
