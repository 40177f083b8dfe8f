"""Create the demo admin account once and print its login (used by `make run`)."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from videoapp.models import Profile


class Command(BaseCommand):
    help = "Create the admin account if it does not exist and print its login."

    def handle(self, *args, **options):
        username = os.environ.get("ADMIN_USERNAME", "admin")
        password = os.environ.get("ADMIN_PASSWORD", "admin-pass-2026")
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True, "email": f"{username}@localhost"}
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
        Profile.objects.get_or_create(
            user=user, defaults={"display_name": "管理员", "onboarding_state": Profile.Onboarding.SKIPPED}
        )
        state = "created" if created else "exists"
        shown = password if created or os.environ.get("ADMIN_PASSWORD") else "(unchanged since it was created)"
        self.stdout.write(f"Admin account {state}: username={username} password={shown}  http://127.0.0.1:8000/admin/")
