"""Users and their roles."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    RESIDENT = "resident", "Resident"
    REFERRER = "referrer", "Referring doctor"
    ADMIN = "admin", "Admin"


class Seniority(models.TextChoices):
    JUNIOR = "junior", "Junior"
    MIDDLE = "middle", "Middle"
    SENIOR = "senior", "Senior"


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.RESIDENT)
    # Only residents have a seniority; reader studies group by it.
    seniority = models.CharField(max_length=8, choices=Seniority.choices, blank=True)

    def save(self, *args, **kwargs):
        # The admin role is the platform's administrator: it gets the Django admin too.
        if self.role == Role.ADMIN:
            self.is_staff = True
            self.is_superuser = True
        super().save(*args, **kwargs)

    @property
    def is_admin_role(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser

    @property
    def is_resident(self) -> bool:
        return self.role == Role.RESIDENT and not self.is_superuser

    @property
    def is_referrer(self) -> bool:
        return self.role == Role.REFERRER and not self.is_superuser
