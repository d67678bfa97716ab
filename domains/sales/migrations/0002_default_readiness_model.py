"""Creates the default readiness model (the numbers are fixed here, so later code changes do not alter
history): adoption 25, health 25, engagement 15, NPS 15 (0 to 100), trend 10, milestones 10 (3 in 180
days for full marks); threshold 70."""

from django.db import migrations

DEFAULT_FACTORS = (
    # factor, weight, normalisation, min, max, target, label
    ("adoption", 25, "range", 0, 1, None, "high_product_adoption"),
    ("health", 25, "range", 0, 100, None, "strong_health_score"),
    ("engagement", 15, "range", 0, 10, None, "strong_engagement"),
    ("nps", 15, "range", 0, 100, None, "promoter_nps"),
    ("trend", 10, "range", 0, 1, None, "improving_health_trend"),
    ("milestones", 10, "target", None, None, 3, "recent_success_milestones"),
)


def create_default_model(apps, schema_editor):
    ReadinessModel = apps.get_model("sales", "ReadinessModel")
    ReadinessFactor = apps.get_model("sales", "ReadinessFactor")
    if ReadinessModel.objects.filter(is_active=True).exists():
        return
    model = ReadinessModel.objects.create(
        name="Default",
        description=(
            "Adoption and health weigh most; engagement and NPS (a promoter score of 100 earns full marks, "
            "0 or below none); an improving trend; three success milestones in the last 180 days. A "
            "customer at 70 or above is expansion-ready."
        ),
        is_active=True,
        threshold=70,
    )
    ReadinessFactor.objects.bulk_create(
        ReadinessFactor(
            model=model,
            factor=factor,
            weight=weight,
            normalisation=normalisation,
            min_value=minimum,
            max_value=maximum,
            target_value=target,
            window_days=180,
            label=label,
        )
        for factor, weight, normalisation, minimum, maximum, target, label in DEFAULT_FACTORS
    )


def remove_default_model(apps, schema_editor):
    apps.get_model("sales", "ReadinessModel").objects.filter(name="Default").delete()


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_initial")]

    operations = [migrations.RunPython(create_default_model, remove_default_model)]
