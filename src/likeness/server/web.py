"""The web app's pages, rendered on the server (no build step): sign-in, people, a person's
faces, unassigned faces, imports. Each page reads the library the way the API does, and the
page's script (``static/app.js``) changes it through the API with the session's CSRF token.
A page asked for without a session redirects to the sign-in page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from likeness import clock
from likeness.faces.listing import list_faces
from likeness.people import manage, merges
from likeness.people.photos import PhotoEntry, list_photos, photo_detail
from likeness.server.deps import MAX_ID, PathId, any_session
from likeness.server.jobs import FINAL, OUTPUT_KINDS
from likeness.server.security import safe_next
from likeness.server.sessions import SignedIn

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def _day(iso: str | None) -> str:
    """An ISO 8601 time as a day people read ("3 May 2021"); "date unknown" without one."""
    return datetime.fromisoformat(iso).strftime("%-d %b %Y") if iso else "date unknown"


templates.env.filters["day"] = _day


def _scope_words(scope: str) -> str:
    """What a consent scope lets its grantee do, in words (``Scope.words``); a name that is
    no scope is shown as it is."""
    from likeness.consent.grants import Scope

    try:
        return Scope(scope).words
    except ValueError:
        return scope


templates.env.filters["scope_words"] = _scope_words

router = APIRouter(include_in_schema=False)


def _session(request: Request) -> SignedIn | None:
    """The owner's session (a person's session is none on the owner's pages)."""
    state = any_session(request)
    return state if state is not None and state.is_owner else None


def _sign_in_first(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?next={quote(target, safe='')}", status_code=303)


def page(request: Request, name: str, title: str, state: SignedIn | None, **context):
    """A page of the web app; the header's links are the owner's, or a person's own
    (``person_nav``) on a person's session."""
    return templates.TemplateResponse(
        request,
        name,
        {
            "title": title,
            "csrf_token": state.csrf_token if state else None,
            "person_nav": state is not None and not state.is_owner,
            **context,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/", response_class=HTMLResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/people", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str | None = None):
    """The sign-in form; after signing in, the page goes to ``next`` if it is a path of this
    site (``security.safe_next``: never a ``javascript:`` URL or another site)."""
    return page(request, "sign_in.html", "Sign in", None, next=safe_next(next))


def is_page_request(request: Request) -> bool:
    """Whether ``request`` asked for a page of the web app (which gets errors as a page),
    not the API (which gets them as JSON)."""
    path = request.url.path
    if request.method == "POST":
        # The approval page's own form, and an invitation's Start button.
        return path == "/oauth/authorize" or path.startswith("/invite/")
    return request.method == "GET" and not path.startswith(("/api/", "/oauth/token", "/static/"))


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """A page saying what went wrong (a person that does not exist...), with the status."""
    titles = {
        400: "Cannot do that",
        403: "Refused",
        404: "Not found",
        409: "Not now",
        422: "Not a page here",
        429: "Too busy",
        503: "Unavailable",
    }
    state = _session(request)
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "title": titles.get(status, "Something went wrong"),
            "message": message,
            "csrf_token": state.csrf_token if state else None,
        },
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


#: People on one page of the People page, photos on one page of a timeline.
PEOPLE_PER_PAGE = 48
PHOTOS_PER_PAGE = 120
FACES_PER_PAGE = 60


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def _href(path: str, **params) -> Callable[[int], str]:
    """The link to page N of a listing, keeping its other parameters."""

    def href(number: int) -> str:
        return f"{path}?{urlencode({k: v for k, v in params.items() if v} | {'page': number})}"

    return href


def _months(entries: list[PhotoEntry]) -> list[tuple[str, list[PhotoEntry]]]:
    """Photos in their order, grouped under the month they were taken ("Undated" last)."""
    months: dict[str, list[PhotoEntry]] = {}
    for e in entries:
        months.setdefault(e.taken_at.strftime("%B %Y") if e.taken_at else "Undated", []).append(e)
    return list(months.items())


@router.get("/people", response_class=HTMLResponse)
def people_page(
    request: Request,
    include_hidden: bool = False,
    search: str | None = Query(None, max_length=200),
    sort: manage.PeopleSort = manage.PeopleSort.PHOTOS,
    page_number: int = Query(1, alias="page", ge=1, le=10**6),
):
    if (state := _session(request)) is None:
        return _sign_in_first(request)
    lib = request.app.state.library
    found = manage.find_people(
        lib,
        search,
        sort,
        (page_number - 1) * PEOPLE_PER_PAGE,
        PEOPLE_PER_PAGE,
        include_hidden,
    )
    people = [
        {**p.as_json(), "face": found.best_face.get(p.id), "last_seen": found.last_seen.get(p.id)}
        for p in found.people
    ]
    return page(
        request,
        "people.html",
        "People",
        state,
        people=people,
        include_hidden=include_hidden,
        search=search,
        sort=str(sort),
        total=found.total,
        merges=merges.recent_merges(lib),
        page=page_number,
        pages=_pages(found.total, PEOPLE_PER_PAGE),
        page_href=_href(
            "/people", search=search, sort=str(sort), include_hidden=include_hidden and "true"
        ),
    )


@router.get("/photos", response_class=HTMLResponse)
def photos_page(request: Request, page_number: int = Query(1, alias="page", ge=1, le=10**6)):
    """The library by date, newest first, a month under each heading."""
    if (state := _session(request)) is None:
        return _sign_in_first(request)
    found = list_photos(
        request.app.state.library, None, (page_number - 1) * PHOTOS_PER_PAGE, PHOTOS_PER_PAGE
    )
    return page(
        request,
        "photos.html",
        "Photos",
        state,
        months=_months(found.photos),
        total=found.total,
        page=page_number,
        pages=_pages(found.total, PHOTOS_PER_PAGE),
        page_href=_href("/photos"),
    )


@router.get("/photos/{photo_id}", response_class=HTMLResponse)
def photo_page(request: Request, photo_id: PathId):
    """One photo, every face on it outlined, who each is."""
    if (state := _session(request)) is None:
        return _sign_in_first(request)
    photo = photo_detail(request.app.state.library, photo_id)
    title = photo.taken_at.strftime("%-d %B %Y") if photo.taken_at else f"Photo {photo.id}"
    return page(request, "photo.html", title, state, photo=photo)


def _person(lib, person_id: int) -> manage.PersonSummary:
    """One person, hidden or not (404 through ``PersonNotFoundError``)."""
    return manage.person_summary(lib, person_id)


@router.get("/people/{person_id}", response_class=HTMLResponse)
def person_page(
    request: Request,
    person_id: PathId,
    page_number: int = Query(1, alias="page", ge=1, le=10**6),
    faces_page: int = Query(1, ge=1, le=10**6),
):
    if (state := _session(request)) is None:
        return _sign_in_first(request)
    lib = request.app.state.library
    person = _person(lib, person_id)
    every_face = list_faces(lib, person_id)
    faces = every_face[(faces_page - 1) * FACES_PER_PAGE : faces_page * FACES_PER_PAGE]
    title = person.name or f"Person {person.id}"
    from likeness.adapters.manage import list_adapters
    from likeness.apps import registry as apps
    from likeness.consent import grants
    from likeness.consent.accounts import account, account_person_ids
    from likeness.consent.grants import Scope
    from likeness.consent.guardians import guardian_of
    from likeness.consent.invitations import list_invitations
    from likeness.models.registry import model_names
    from likeness.people.manage import list_people
    from likeness.people.records import get_person

    with lib.session() as s:
        uid = get_person(s, person_id).uid
    now = clock.now()
    guardian_id = guardian_of(lib, person_id) if person.is_minor else None
    own = account_person_ids(lib)
    candidates = [
        p
        for p in list_people(lib, include_hidden=True)
        if p.id in own and p.id != person_id and not p.is_minor and not p.do_not_generate
    ]
    shown = list_photos(lib, person_id, (page_number - 1) * PHOTOS_PER_PAGE, PHOTOS_PER_PAGE)
    return page(
        request,
        "person.html",
        title,
        state,
        person=person,
        best_face=manage.best_faces(lib).get(person_id) if faces else None,
        grants=[
            {
                **g.as_json(person_id),
                "scopes": g.scopes,
                "issued_at": g.issued_at,
                "expires_at": g.expires_at,
                "in_force": g.in_force(now),
            }
            for g, _ in grants.list_grants(lib, person_id)
            if g.revoked_at is None
        ],
        adapters=list_adapters(lib, person_id),
        app_names={a.grantee: a.name for a in apps.list_apps(lib)},
        months=_months(shown.photos),
        photo_total=shown.total,
        page=page_number,
        pages=_pages(shown.total, PHOTOS_PER_PAGE),
        page_href=_href(f"/people/{person_id}"),
        faces=faces,
        face_total=len(every_face),
        faces_page=faces_page,
        face_pages=_pages(len(every_face), FACES_PER_PAGE),
        faces_href=lambda n: f"/people/{person_id}?faces_page={n}#faces",
        models=model_names(lib),
        account=account(lib, uid),
        invitations=[i.as_json(now) for i in list_invitations(lib, person_id)],
        scopes=[str(x) for x in Scope],
        guardian=next((p for p in candidates if p.id == guardian_id), None),
        guardian_candidates=candidates,
        merges=merges.recent_merges(lib, person_id),
        # (None for someone who consents for themselves or asked never to be generated.)
        similar=merges.similar_people(lib, person_id),
    )


@router.get("/people/{person_id}/enrol", response_class=HTMLResponse)
def enrol_page(request: Request, person_id: PathId):
    """Live enrolment: the camera, the prompts as the server gives them, the verdict."""
    if (state := _session(request)) is None:
        return _sign_in_first(request)
    lib = request.app.state.library
    person = _person(lib, person_id)
    title = f"Enrol {person.name or f'person {person.id}'}"
    return page(request, "enrol.html", title, state, person=person)


@router.get("/faces/unassigned", response_class=HTMLResponse)
def unassigned_page(request: Request, page_number: int = Query(1, alias="page", ge=1, le=10**6)):
    """Faces no one has been found for, a page at a time, to put in a person or a new one."""
    if (state := _session(request)) is None:
        return _sign_in_first(request)
    lib = request.app.state.library
    every_face = list_faces(lib, unassigned=True)
    start = (page_number - 1) * FACES_PER_PAGE
    return page(
        request,
        "unassigned.html",
        "Unassigned faces",
        state,
        faces=every_face[start : start + FACES_PER_PAGE],
        total=len(every_face),
        people=manage.find_people(lib, sort=manage.PeopleSort.NAME).people,
        page=page_number,
        pages=_pages(len(every_face), FACES_PER_PAGE),
        page_href=_href("/faces/unassigned"),
    )


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request):
    if (state := _session(request)) is None:
        return _sign_in_first(request)
    from likeness.apps import registry as apps

    jobs = [j.as_json() for j in request.app.state.jobs.list()]
    app_names = {a.grantee: a.name for a in apps.list_apps(request.app.state.library)}
    return page(request, "jobs.html", "Jobs", state, jobs=jobs, final=FINAL, app_names=app_names)


@router.get("/consent", response_class=HTMLResponse)
def consent_page(
    request: Request,
    person: int | None = Query(None, ge=1, le=MAX_ID),
    kind: str | None = Query(None, max_length=64),
    requester: str | None = Query(None, max_length=200),
):
    """Permissions as cards, a person at a time; the audit log in sentences, filtered."""
    if (state := _session(request)) is None:
        return _sign_in_first(request)

    from likeness.apps import registry as apps
    from likeness.consent import audit, grants
    from likeness.consent.log import KINDS, audit_log

    lib = request.app.state.library
    people = manage.list_people(lib, include_hidden=True)
    names = {p.id: p.name or f"person {p.id}" for p in people}
    now = clock.now()
    by_person: dict[str, list[dict]] = {}
    for g, pid in grants.list_grants(lib):
        who = names.get(pid, "a deleted person") if pid else "a deleted person"
        by_person.setdefault(who, []).append(
            {
                **g.as_json(pid),
                "in_force": g.in_force(now),
            }
        )
    app_names = {a.id: a.name for a in apps.list_apps(lib)}
    report = audit.verify_audit(lib)
    requesters = [("owner", "you")]
    requesters += [(f"person:{u}", n) for u, n in _account_names(lib, names)]
    requesters += [(f"app:{i}", f"the app {n!r}") for i, n in app_names.items()]
    return page(
        request,
        "consent.html",
        "Consent",
        state,
        by_person=sorted(by_person.items()),
        people=people,
        app_names=app_names,
        scopes=list(grants.Scope),
        kinds=KINDS,
        requesters=requesters,
        filters={"person": person, "kind": kind, "requester": requester},
        log=audit_log(lib, person, kind or None, requester or None, 200, app_names),
        audit={"ok": report.ok, "entries": report.entries, "problem": report.problem},
    )


def _account_names(lib, names: dict[int, str]) -> list[tuple[str, str]]:
    """(uid, name) of the people with an account: they act for themselves in the log."""
    from likeness.consent.accounts import account_person_ids
    from likeness.people.records import get_person

    with lib.session() as s:
        return [(get_person(s, pid).uid, names.get(pid, "")) for pid in account_person_ids(lib)]


@router.get("/apps", response_class=HTMLResponse)
def apps_page(request: Request):
    """Registered apps: what each may do for whom (its grants), its tokens, revoke."""
    if (state := _session(request)) is None:
        return _sign_in_first(request)

    from likeness.apps import registry as apps
    from likeness.apps import tokens
    from likeness.consent import grants

    lib = request.app.state.library
    now = clock.now()
    in_force = [(g, p) for g, p in grants.list_grants(lib) if g.in_force(now)]
    rows = [
        {
            **a.as_json(),
            "grants": [g.as_json(p) for g, p in in_force if g.grantee == a.grantee],
            "tokens": len(tokens.app_tokens(lib, a.id)),
        }
        for a in apps.list_apps(lib)
    ]
    names = {p.id: p.name for p in manage.list_people(lib, include_hidden=True)}
    return page(request, "apps.html", "Apps", state, apps=rows, names=names)


@router.get("/check", response_class=HTMLResponse)
def check_page(request: Request):
    """Check an image: whether it is one of this library's outputs (or a copy of one:
    re-encoded, cropped, turned, framed in a screenshot), and what its credentials say."""
    if (state := _session(request)) is None:
        return _sign_in_first(request)
    return page(request, "check.html", "Check an image", state)


@router.get("/create", response_class=HTMLResponse)
def create_page(request: Request):
    if (state := _session(request)) is None:
        return _sign_in_first(request)
    from likeness.consent.grants import OWNER, Scope, list_grants
    from likeness.generate.prompt import mention_form
    from likeness.generate.styles import STYLES
    from likeness.models.registry import model_names

    lib = request.app.state.library
    people = manage.list_people(lib)
    mentions = [m for p in people if p.name and (m := mention_form(p.name))]
    if any(p.is_owner for p in people):
        mentions.insert(0, "me")
    jobs = [j.as_json() for j in request.app.state.jobs.list() if j.kind in OUTPUT_KINDS]
    # Who may be made in which style, by the owner's grants in force: the page preselects a
    # style that works and says why the others are locked.
    now = clock.now()
    names = {p.id: p.name or f"person {p.id}" for p in people}
    may: dict[Scope, set[str]] = {
        Scope.GENERATE_STYLIZED: set(),
        Scope.GENERATE_PHOTOREAL: set(),
        Scope.GENERATE_VIDEO: set(),
    }
    for grant, pid in list_grants(lib):
        if pid in names and grant.grantee == OWNER and grant.in_force(now):
            for scope in may.keys() & set(grant.scopes):
                may[scope].add(names[pid])
    minors = {p.name or f"person {p.id}" for p in people if p.is_minor}
    photoreal = sorted(may[Scope.GENERATE_PHOTOREAL] - minors)
    stylized = sorted(may[Scope.GENERATE_STYLIZED])
    video = sorted(may[Scope.GENERATE_VIDEO] - minors)
    styles = list(STYLES.values())
    return page(
        request,
        "create.html",
        "Create",
        state,
        mentions=mentions,
        styles=styles,
        photoreal=photoreal,
        stylized=stylized,
        video=video,
        default_style="" if photoreal and not (set(stylized) - set(photoreal)) else styles[0].name,
        models=model_names(lib),
        default_steps=30,
        jobs=jobs,
        final=FINAL,
    )


@router.get("/jobs/{job_id}/images/{index}", response_class=HTMLResponse)
def image_report_page(request: Request, job_id: str, index: int):
    """A created image with its provenance in words: its Content Credentials, what they
    say about consent and AI training, its watermark and fingerprint; the raw report one
    click away."""
    if (state := _session(request)) is None:
        return _sign_in_first(request)
    from likeness.provenance.credentials import LIKENESS_ASSERTION
    from likeness.provenance.stamp import find_provenance
    from likeness.server.jobs_routes import generated_image

    queue, lib = request.app.state.jobs, request.app.state.library
    path = generated_image(job_id, index, queue, lib)
    report = find_provenance(lib, path).as_json()
    job = queue.get(job_id)
    credentials = report["credentials"]
    ours = credentials["assertions"].get(LIKENESS_ASSERTION) or {}
    return page(
        request,
        "image.html",
        f"Image {index + 1} of “{job.params.get('prompt', '')}”",
        state,
        job=job.as_json(),
        index=index,
        report=report,
        credentials=credentials,
        grants=ours.get("grants", []),
        adapters=ours.get("adapters", []),
        training=credentials["assertions"].get("cawg.training-mining"),
    )
