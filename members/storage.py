"""Kept for the migrations that name it: the one private storage is core's."""

from cqa_portal.core.storage import private_storage

__all__ = ["private_storage"]
