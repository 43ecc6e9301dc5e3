"""The portal's authentication backends: Django's and allauth's, with the signed-in user of each
request read from a process-local memo instead of a query.

The memo (``pagecache.memo``) is exact the way cached pages are: a user row is reused only while
the user table has the version it had when the row was read, and every write to that table
(a login, a password or e-mail change, deactivation) gives it a new version in every process.
Each request gets its own copy of the row.
"""

import copy

from allauth.account import auth_backends as allauth_backends
from django.contrib.auth import backends as django_backends
from django.contrib.auth import get_user_model

from . import pagecache


class _UserFromMemo:
    def get_user(self, user_id):
        table = get_user_model()._meta.db_table
        user = pagecache.memo(
            f"auth-user:{type(self).__name__}:{user_id}",
            (table,),
            lambda: super(_UserFromMemo, self).get_user(user_id),
        )
        return copy.copy(user)  # (a model's copy has its own state and related-object cache)


class ModelBackend(_UserFromMemo, django_backends.ModelBackend):
    pass


class AuthenticationBackend(_UserFromMemo, allauth_backends.AuthenticationBackend):
    pass
