"""Survey pages: member filing, public findings and results, staff results and exports."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from cqa_portal.core import errors, jobs, pagecache
from cqa_portal.core.decorators import post_only, staff_required
from members.access import company_member_required

from . import exports, fairness, selectors, services
from .forms import OTHER_SUFFIX, CrossTabForm, ResponseForm, initial_from_answers
from .models import Response, Survey
from .presentation import present, present_cross_tab
from .summary import cross_tab, public_summary


@pagecache.page()
@company_member_required
def index(request):
    surveys = selectors.member_surveys(company=request.membership.company)
    return render(request, "surveys/index.html", {"surveys": surveys, "now": timezone.now()})


@pagecache.page()
@company_member_required
@require_http_methods(["GET", "POST"])
def fill(request, slug):
    """The company's response: a form while the survey is open, its answers otherwise."""
    survey = selectors.survey_for_members(slug)
    company = request.membership.company
    response = selectors.company_response(survey=survey, company=company)
    questions = selectors.questions_of(survey)
    editing = survey.is_accepting and (
        response is None or not response.is_submitted or request.GET.get("edit") == "1"
    )
    if request.method == "POST":
        if not survey.is_accepting:
            messages.error(request, _("This survey is not open for answers."))
            return redirect("surveys:fill", slug=survey.slug)
        submit = "submit" in request.POST
        form = ResponseForm(request.POST, questions=questions, draft=not submit)
        if form.is_valid():
            try:
                services.response_save(
                    survey=survey,
                    company=company,
                    user=request.user,
                    answers=form.answers,
                    submit=submit,
                )
            except ValidationError as exc:
                errors.add_to_form(form, exc)
            else:
                if submit:
                    messages.success(
                        request,
                        _(
                            "Thank you: your answers are submitted. "
                            "You can change them until %(date)s."
                        )
                        % {"date": timezone.localtime(survey.closes_at).strftime("%Y-%m-%d %H:%M")},
                    )
                else:
                    messages.success(request, _("Draft saved. It is not submitted yet."))
                return redirect("surveys:fill", slug=survey.slug)
        editing = True
    elif editing:
        form = ResponseForm(
            initial=initial_from_answers(questions, selectors.response_answers(response)),
            questions=questions,
        )
    else:
        form = None
    answers = (
        selectors.answers_by_question(questions, selectors.response_answers(response))
        if response and not editing
        else []
    )
    conditions = {}
    for question in questions:
        if question.condition_question_id:
            condition = {
                "field": next(
                    (p.field_name for p in questions if p.pk == question.condition_question_id),
                    "",
                ),
                "values": ",".join(o.code for o in question.condition_options.all()),
            }
            conditions[question.field_name] = condition
            conditions[question.field_name + OTHER_SUFFIX] = condition
    return render(
        request,
        "surveys/fill.html",
        {
            "survey": survey,
            "response": response,
            "form": form,
            "editing": editing,
            "answers": answers,
            "conditions": conditions,
        },
    )


@pagecache.page()
@company_member_required
def response_detail(request, pk):
    """A company's own response; another company's is a 404."""
    response = get_object_or_404(
        Response.objects.select_related("survey", "company"),
        pk=pk,
        company=request.membership.company,
    )
    questions = selectors.questions_of(response.survey)
    answers = selectors.answers_by_question(questions, selectors.response_answers(response))
    return render(
        request, "surveys/response_detail.html", {"response": response, "answers": answers}
    )


@pagecache.page()
def findings(request):
    """Public: the findings of the latest published survey, and the list of published ones."""
    surveys = selectors.published_surveys()
    survey = surveys[0] if surveys else None
    snapshot = selectors.latest_snapshot(survey) if survey else None
    context = {"surveys": surveys, "survey": survey, "snapshot": snapshot}
    if snapshot:
        context["summary"] = present(public_summary(snapshot.data), public=True)
    return render(request, "surveys/findings.html", context)


@pagecache.page()
def results(request, slug):
    """Public results of a published survey: aggregates only, small groups suppressed."""
    survey = Survey.objects.filter(slug=slug, results_published=True).first()
    if survey is None or survey.status == Survey.Status.DRAFT:
        raise Http404
    snapshot = selectors.latest_snapshot(survey)
    context = {"survey": survey, "snapshot": snapshot, "public": True}
    if snapshot:
        context["summary"] = present(public_summary(snapshot.data), public=True)
    return render(request, "surveys/results.html", context)


def results_export(request, slug):
    """Public: the published figures as XLSX, suppressed exactly as on the results page."""
    survey = Survey.objects.filter(slug=slug, results_published=True).first()
    if survey is None or survey.status == Survey.Status.DRAFT:
        raise Http404
    snapshot = selectors.latest_snapshot(survey)
    if snapshot is None:
        raise Http404
    return exports.public_summary_response(survey, public_summary(snapshot.data))


@staff_member_required
def staff_results(request, slug):
    """The unsuppressed summary, and any two questions crossed (``?rows=&columns=``)."""
    survey = get_object_or_404(Survey, slug=slug)
    snapshot = selectors.latest_snapshot(survey)
    questions = selectors.questions_of(survey)
    picked = "rows" in request.GET or "columns" in request.GET
    form = CrossTabForm(request.GET if picked else None, questions=questions)
    context = {"survey": survey, "snapshot": snapshot, "public": False, "crosstab_form": form}
    if picked and form.is_valid():
        context["crosstab"] = present_cross_tab(cross_tab(survey, *form.pair))
    if snapshot:
        context["summary"] = present(snapshot.data, public=False)
    return render(request, "surveys/results.html", context)


@post_only(back="surveys:staff_results")
@staff_required
def staff_refresh(request, slug):
    survey = get_object_or_404(Survey, slug=slug)
    if services.summary_refresh_request(survey=survey, actor=request.user):
        messages.success(request, _("The summary is being computed; reload in a moment."))
    else:
        messages.warning(request, _("A summary is already being computed for this survey."))
    return redirect("surveys:staff_results", slug=survey.slug)


EXPORTS = {"xlsx": gettext_lazy("Responses (XLSX)"), "csv": gettext_lazy("Responses (CSV)")}


def _export(request, survey, *, kind, fmt, label):
    """GET: a page with the button; POST: the export runs as a background job and the staff
    member lands on its page (progress, then the download)."""
    if request.method != "POST":
        return render(request, "surveys/staff_export.html", {"survey": survey, "label": label})
    job = jobs.job_start(
        kind=kind,
        owner=request.user,
        title=f"{survey.display_title}: {label}",
        params={"survey": survey.pk, "fmt": fmt},
    )
    return redirect(jobs.job_url(job))


@staff_required
def export_responses(request, slug, fmt):
    survey = get_object_or_404(Survey, slug=slug)
    if fmt not in EXPORTS:
        raise Http404
    return _export(
        request, survey, kind="surveys.export_responses", fmt=fmt, label=str(EXPORTS[fmt])
    )


@staff_required
def export_summary(request, slug):
    survey = get_object_or_404(Survey, slug=slug)
    return _export(
        request, survey, kind="surveys.export_summary", fmt="xlsx", label=_("Summary (XLSX)")
    )


@staff_member_required
def staff_fairness(request):
    """Staff: does fee relief reach the companies the survey shows were hit hardest?"""
    survey = fairness.fairness_survey()
    years = fairness.fee_years()
    year = years[0] if years else None
    raw = request.GET.get("year", "")
    if raw:
        if not raw.isdigit() or int(raw) not in years:
            message = _("There are no fees for the year “%(year)s”.") % {"year": raw[:10]}
            messages.error(request, message)
            return redirect("surveys:staff_fairness")
        year = int(raw)
    tables = fairness.fairness_tables(survey=survey, year=year) if year else []
    context = {
        "survey": survey,
        "years": years,
        "year": year,
        "tables": tables,
        "minimum": fairness.MIN_PUBLIC_GROUP,
    }
    return render(request, "surveys/staff_fairness.html", context)
