from datetime import timedelta

import factory
from django.utils import timezone

from courses.models import AttendanceRecord, Lecturer, Registration, Series, Session, Topic


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"质量工具{n}")
    name_en = factory.Sequence(lambda n: f"Quality tools {n}")
    slug = factory.Sequence(lambda n: f"topic-{n}")


class SeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Series
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"系列{n}")
    name_en = factory.Sequence(lambda n: f"Series {n}")
    slug = factory.Sequence(lambda n: f"series-{n}")
    topic = factory.SubFactory(TopicFactory)


class LecturerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lecturer

    name = factory.Sequence(lambda n: f"讲师{n}")
    title = "高级工程师"
    organisation = "中国质量协会"
    bio = "长期从事质量管理培训。"


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Session
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"质量工具应用第{n}讲")
    title_en = factory.Sequence(lambda n: f"Applying quality tools, part {n}")
    topic = factory.SubFactory(TopicFactory)
    starts_at = factory.LazyFunction(
        lambda: (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    )
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(minutes=90))
    platform = "腾讯会议"
    join_url = "https://meeting.example.com/j/123456"
    capacity = None
    status = Session.Status.SCHEDULED
    description = "课程介绍。"

    @factory.post_generation
    def lecturers(self, create, extracted, **kwargs):
        if create and extracted:
            self.lecturers.set(extracted)


class RegistrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Registration

    session = factory.SubFactory(SessionFactory)
    name = factory.Sequence(lambda n: f"学员{n}")
    email = factory.Sequence(lambda n: f"attendee{n}@example.com")
    organisation = "示例公司"
    status = Registration.Status.CONFIRMED
    position = factory.Sequence(lambda n: n + 1)
    confirmed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=5))
    language = "zh-hans"


class AttendanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AttendanceRecord

    session = factory.SubFactory(SessionFactory)
    participants = 100
