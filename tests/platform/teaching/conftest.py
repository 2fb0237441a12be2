import pytest


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The named users are created per test; PBKDF2 would dominate these tests' run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TEACHING_AUTO_ANALYSE = False
