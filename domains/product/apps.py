"""App config of the product domain: its event types, the subscriber that takes deleted customers out of
the adoption figures, its beat jobs, its demo data and its panel on the customer's page."""

from django.apps import AppConfig


class ProductConfig(AppConfig):
    name = "domains.product"
    label = "product"
    verbose_name = "Product"

    def ready(self) -> None:
        from celery.schedules import crontab

        from csintegration.adminsite.panels import register_customer_panel
        from csintegration.events import subscribe
        from csintegration.schedules import register_periodic_task
        from csintegration.seeding import register_demo_seeder

        from . import events  # noqa: F401  (registers the event types)
        from .aggregates import profiles_remove_deleted
        from .conf import conf
        from .demo import seed_demo_product
        from .panels import render_product_panel

        # Inline: a deleted customer leaves the figures in the deleting transaction (its rows are ours).
        subscribe(
            "product.adoption_profiles",
            profiles_remove_deleted,
            event_types=["customer.deleted"],
            inline=True,
        )
        register_periodic_task(
            "product-sync-adoption-profiles",
            task="product.sync_adoption_profiles",
            schedule=float(conf.PRODUCT_PROFILE_SYNC_INTERVAL_SECONDS),
            options={"queue": "bulk", "expires": conf.PRODUCT_PROFILE_SYNC_INTERVAL_SECONDS},
        )
        register_periodic_task(
            "product-nightly-rollover",
            task="product.nightly_rollover",
            schedule=crontab(hour=3, minute=15),
            options={"queue": "bulk"},
        )
        register_demo_seeder("product", seed_demo_product, order=40)
        register_customer_panel(
            "product", title="Product adoption and feedback", render=render_product_panel, order=40
        )
