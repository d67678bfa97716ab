"""Creates the default scorecard (the numbers are fixed here, so later code changes do not alter history)."""

from django.db import migrations

DEFAULT_MEASURES = (
    # measure, weight, normalisation, direction, min, max, target
    ("adoption_rate", 25, "range", "higher_is_better", 0, 1, None),
    ("login_frequency", 20, "target", "higher_is_better", None, None, 20),
    ("engagement", 15, "range", "higher_is_better", 0, 10, None),
    ("nps", 15, "range", "higher_is_better", -100, 100, None),
    ("payment_status", 15, "range", "higher_is_better", 0, 1, None),
    ("support_tickets", 10, "target", "lower_is_better", None, None, 2),
)
DEFAULT_BANDS = ((75, "low"), (50, "medium"), (25, "high"), (0, "critical"))


def create_default_scorecard(apps, schema_editor):
    Scorecard = apps.get_model("customers", "Scorecard")
    ScorecardMeasure = apps.get_model("customers", "ScorecardMeasure")
    ScorecardBand = apps.get_model("customers", "ScorecardBand")
    if Scorecard.objects.filter(is_default=True).exists():
        return
    scorecard = Scorecard.objects.create(
        name="Default",
        description=(
            "Applies to every customer no other scorecard matches. Adoption, logins against a target of "
            "20 a month, engagement, NPS, payment status, and open support tickets against 2."
        ),
        is_default=True,
    )
    ScorecardMeasure.objects.bulk_create(
        ScorecardMeasure(
            scorecard=scorecard,
            measure=measure,
            weight=weight,
            normalisation=normalisation,
            direction=direction,
            min_value=minimum,
            max_value=maximum,
            target_value=target,
        )
        for measure, weight, normalisation, direction, minimum, maximum, target in DEFAULT_MEASURES
    )
    ScorecardBand.objects.bulk_create(
        ScorecardBand(scorecard=scorecard, min_score=bound, risk_level=level) for bound, level in DEFAULT_BANDS
    )


def remove_default_scorecard(apps, schema_editor):
    apps.get_model("customers", "Scorecard").objects.filter(is_default=True, name="Default").delete()


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_health_engine")]

    operations = [migrations.RunPython(create_default_scorecard, remove_default_scorecard)]
