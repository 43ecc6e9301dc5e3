"""The response form: one field per question, built from the survey's definition.

Validation happens here (kinds, bounds, choices belonging to the question, the "other" text,
required answers of visible questions); answers to questions hidden by their condition are
discarded. A draft skips only the required check: nothing malformed is ever stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from cqa_portal.core.forms import PortalForm

from .models import Answer, Question, QuestionOption

OTHER_SUFFIX = "__other"


@dataclass
class CleanAnswer:
    """A validated answer to one question, ready to store."""

    question: Question
    options: list[QuestionOption] = field(default_factory=list)
    other_text: str = ""
    number: Decimal | None = None
    text: str = ""
    date: date | None = None

    @property
    def is_empty(self) -> bool:
        return not self.options and self.number is None and not self.text and self.date is None


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class ResponseForm(PortalForm):
    """Fields are named ``q_<code>``; an "other" text box is ``q_<code>__other``."""

    def __init__(self, *args, questions: list[Question], draft: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = questions
        self.draft = draft
        self.answers: list[CleanAnswer] = []
        for question in questions:
            self._add_field(question)

    def _add_field(self, question: Question) -> None:
        name = question.field_name
        label = question.label
        help_text = question.display_help
        if question.condition_question_id:
            parent = next(
                (q for q in self.questions if q.pk == question.condition_question_id), None
            )
            if parent is not None:
                wanted = [
                    o.label for o in parent.options.all() if o in question.condition_options.all()
                ]
                hint = _("Only if the answer to “%(question)s” is: %(answers)s.") % {
                    "question": parent.label,
                    "answers": " / ".join(wanted),
                }
                help_text = f"{help_text} {hint}".strip()
        common = {"label": label, "help_text": help_text, "required": False}
        if question.kind == Question.Kind.SINGLE:
            options = list(question.options.all())
            self.fields[name] = forms.ChoiceField(
                choices=[(o.code, o.label) for o in options], widget=forms.RadioSelect, **common
            )
        elif question.kind == Question.Kind.MULTIPLE:
            options = list(question.options.all())
            self.fields[name] = forms.MultipleChoiceField(
                choices=[(o.code, o.label) for o in options],
                widget=forms.CheckboxSelectMultiple,
                **common,
            )
        elif question.kind == Question.Kind.NUMBER:
            # No more digits than the answer column holds: a larger number would overflow it.
            column = Answer._meta.get_field("number")
            places = min(question.decimal_places, column.decimal_places)
            self.fields[name] = forms.DecimalField(
                max_digits=column.max_digits - column.decimal_places + places,
                decimal_places=places,
                min_value=_plain_bound(question.min_value),
                max_value=_plain_bound(question.max_value),
                **common,
            )
        elif question.kind == Question.Kind.SHORT_TEXT:
            self.fields[name] = forms.CharField(max_length=200, **common)
        elif question.kind == Question.Kind.LONG_TEXT:
            self.fields[name] = forms.CharField(
                max_length=5000, widget=forms.Textarea(attrs={"rows": 4}), **common
            )
        elif question.kind == Question.Kind.DATE:
            self.fields[name] = forms.DateField(widget=DateInput, **common)
        # Required questions are checked in clean() (a draft may leave them empty); the
        # renderer marks them like required fields.
        self.fields[name].required_on_submit = question.required
        if question.is_choice and any(o.is_other for o in question.options.all()):
            self.fields[name + OTHER_SUFFIX] = forms.CharField(
                label=_("Other: please specify"), max_length=200, required=False
            )

    def visible(self, question: Question, values: dict) -> bool:
        """A question with a condition is shown when the earlier answer is one of the options."""
        if not question.condition_question_id:
            return True
        parent_value = values.get(question.condition_question_id)
        allowed = {o.code for o in question.condition_options.all()}
        return parent_value in allowed

    def clean(self):
        cleaned = super().clean()
        values: dict[int, object] = {}
        self.answers = []
        for question in self.questions:
            name = question.field_name
            other_name = name + OTHER_SUFFIX
            if not self.visible(question, values):
                # Hidden: whatever was sent for it is discarded, and so are its errors.
                for key in (name, other_name):
                    cleaned.pop(key, None)
                    self._errors.pop(key, None)
                continue
            if name in self._errors:
                continue
            value = cleaned.get(name)
            answer = self._answer(question, value, cleaned.get(other_name, ""))
            if answer is None:
                continue
            if answer.is_empty and question.required and not self.draft:
                self.add_error(name, _("Please answer this question."))
                continue
            if question.kind == Question.Kind.SINGLE and answer.options:
                values[question.pk] = answer.options[0].code
            if not answer.is_empty:
                self.answers.append(answer)
        return cleaned

    def _answer(self, question: Question, value, other_text: str) -> CleanAnswer | None:
        answer = CleanAnswer(question=question)
        if question.is_choice:
            codes = [value] if isinstance(value, str) and value else list(value or [])
            by_code = {o.code: o for o in question.options.all()}
            answer.options = [by_code[c] for c in codes if c in by_code]
            other_text = (other_text or "").strip()
            other_chosen = any(o.is_other for o in answer.options)
            if other_chosen and not other_text and not self.draft:
                self.add_error(
                    question.field_name + OTHER_SUFFIX,
                    _("You chose “other”: please say what it is."),
                )
                return None
            if other_text and not other_chosen:
                self.add_error(
                    question.field_name + OTHER_SUFFIX,
                    _("Tick “other” as well, or clear this text."),
                )
                return None
            answer.other_text = other_text
        elif question.kind == Question.Kind.NUMBER:
            answer.number = value
        elif question.kind == Question.Kind.DATE:
            answer.date = value
        else:
            answer.text = (value or "").strip()
        return answer


def _plain_bound(value: Decimal | None) -> Decimal | None:
    """100.0000 as stored → 100, so messages read "at most 100"."""
    if value is None:
        return None
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def initial_from_answers(questions: list[Question], answers) -> dict:
    """Form initial data from stored ``Answer`` rows."""
    by_question: dict[int, list] = {}
    for answer in answers:
        by_question.setdefault(answer.question_id, []).append(answer)
    initial = {}
    for question in questions:
        rows = by_question.get(question.pk, [])
        if not rows:
            continue
        name = question.field_name
        if question.kind == Question.Kind.SINGLE:
            initial[name] = rows[0].option.code
        elif question.kind == Question.Kind.MULTIPLE:
            initial[name] = [r.option.code for r in rows]
        elif question.kind == Question.Kind.NUMBER:
            number = rows[0].number
            places = Decimal(1).scaleb(-question.decimal_places)
            initial[name] = number.quantize(places) if number is not None else None
        elif question.kind == Question.Kind.DATE:
            initial[name] = rows[0].date
        else:
            initial[name] = rows[0].text
        if question.is_choice:
            other = next((r.text for r in rows if r.text), "")
            if other:
                initial[name + OTHER_SUFFIX] = other
    return initial


class CrossTabForm(PortalForm):
    """Staff pick two questions to cross (rows × columns); text questions cannot be counted."""

    rows = forms.ChoiceField(label=_("Rows: answers to"))
    columns = forms.ChoiceField(label=_("Columns: answers to"))

    def __init__(self, *args, questions: list[Question], **kwargs):
        super().__init__(*args, **kwargs)
        from .summary import COUNTED_KINDS

        self.questions = {q.code: q for q in questions if q.kind in COUNTED_KINDS}
        choices = [(code, q.label) for code, q in self.questions.items()]
        self.fields["rows"].choices = choices
        self.fields["columns"].choices = choices

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("rows") and cleaned.get("rows") == cleaned.get("columns"):
            raise forms.ValidationError(
                _("Pick two different questions: a question crossed with itself says nothing.")
            )
        return cleaned

    @property
    def pair(self) -> tuple[Question, Question]:
        return self.questions[self.cleaned_data["rows"]], self.questions[
            self.cleaned_data["columns"]
        ]
