def seed_demo_marketing(**options) -> str:
    return ""
