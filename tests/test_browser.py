"""The chat page in Debian's Chromium, driven by Playwright, against the real app (real index, real
embedder, extractive back-end): ask, see the cited answer, click the citation, see the highlighted
passage, give a thumbs-down, find it in the database; the embed view inside an intranet page's iframe;
markup in documents and questions stays inert text. Writes a screenshot to test-output/chat-page.png.
"""

import re
import shutil
import sqlite3
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import ROOT, cimic_server, free_port, indexed_env

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
OUTPUT = ROOT / "test-output"
HOSTILE = ('Field note on the Zyxwv liaison cell. <script>window.__pwned = "script"</script> '
           '<img src=x onerror="window.__pwned = \'img\'"> See [the annex](javascript:window.__pwned=\'link\') '
           'for the Zyxwv liaison cell roster.\n')


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class IntranetPage:
    """A loopback web server with a page that frames the assistant's embed view."""

    def __init__(self, root: Path, app_url: str, port: int):
        root.mkdir(parents=True, exist_ok=True)
        (root / "intranet.html").write_text(
            f'<!doctype html><title>Intranet</title><h1>Intranet</h1>'
            f'<iframe id="cimic" src="{app_url}/embed/" width="1000" height="760" title="CIMIC assistant"></iframe>',
            encoding="utf-8")
        self.server = ThreadingHTTPServer(("127.0.0.1", port), partial(QuietHandler, directory=str(root)))
        self.url = f"http://127.0.0.1:{port}/intranet.html"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs it (make browser)")
    tmp = tmp_path_factory.mktemp("browser")
    shutil.copytree(ROOT / "knowledge", tmp / "knowledge")
    (tmp / "knowledge" / "field-note.md").write_text("# Zyxwv liaison cell\n\n" + HOSTILE, encoding="utf-8")
    allowed_port, other_port = free_port(), free_port()
    env = indexed_env(tmp, CIMIC_ALLOWED_ORIGINS=f"http://127.0.0.1:{allowed_port}")
    url, service = cimic_server(env)
    with service:
        allowed = IntranetPage(tmp / "allowed", url, allowed_port)
        other = IntranetPage(tmp / "other", url, other_port)
        try:
            yield {"url": url, "db": tmp / "feedback.db", "allowed": allowed.url, "other": other.url}
        finally:
            allowed.close()
            other.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = context.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    yield pg
    context.close()


def ask(scope, question: str):
    scope.locator("#question textarea").fill(question)
    scope.locator("#question textarea").press("Enter")


def ask_afresh(page, question: str):
    """The Ask tab, its chat cleared, then the question: the clear has run (it empties the question box too) before
    the question is typed."""
    page.get_by_role("tab", name="Ask").click()
    page.locator("#clear").click()
    page.locator("#sources").get_by_text("Sources of each answer appear here").wait_for(timeout=10_000)
    ask(page, question)


def test_ask_cite_highlight_and_thumbs_down(site, page):
    t0 = time.perf_counter()
    page.goto(site["url"])
    page.locator("#question textarea").wait_for(state="visible")
    print(f"page load to interactive chat: {time.perf_counter() - t0:.2f} s")

    ask(page, "What was Operation Rescript?")
    link = page.locator("#chat a.cite").first
    link.wait_for(timeout=60_000)
    bot = page.locator("#chat [aria-label^=\"bot's message\"]").last
    assert "Operation Rescript" in bot.inner_text() and "[1]" in bot.inner_text()
    assert re.match(r"(\d+) of \1 sentences backed by their source\s+How sure the assistant is that the sources answer this "
                    r"question: \d+%", page.locator("#sources .badge").inner_text())

    link.click()
    assert page.evaluate("location.hash") == "#a1-src-1"  # this answer's (message 1) passage 1
    cited = page.locator("#sources #a1-src-1")
    assert cited.is_visible() and "Civil-military cooperation during mass casualty events" in cited.inner_text()
    marked = cited.locator("mark").all_inner_texts()
    assert {"Rescript", "Operation"} <= set(marked), marked

    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "chat-page.png"), full_page=True)

    page.locator("#comment textarea").fill("too long for a trainee")
    page.locator("#chat button[aria-label='Dislike']").last.click()
    page.locator("#feedback-status").get_by_text("feedback was stored").wait_for(timeout=30_000)
    rows = sqlite3.connect(site["db"]).execute("select rating, question, comment, citations from feedback").fetchall()
    assert ("down", "What was Operation Rescript?", "too long for a trainee") == rows[-1][:3]
    assert "wolowiec-goniewicz-2026" in rows[-1][3]


def test_follow_up_keeps_the_conversation(site, page):
    page.goto(site["url"])
    ask(page, "What was Operation Rescript?")
    page.locator("#chat a.cite").first.wait_for(timeout=60_000)
    ask(page, "Under which procedure was it carried out?")
    page.locator("#chat [aria-label^=\"bot's message\"]").nth(1).wait_for(timeout=60_000)
    page.wait_for_function("document.querySelectorAll('#chat a.cite').length >= 2", timeout=60_000)
    assert "Military Aid to the Civil Authorities" in page.locator("#chat [aria-label^=\"bot's message\"]").nth(1).inner_text()


def test_instructor_tabs_are_not_shown_without_an_instructor_login(site, page):
    page.goto(site["url"])
    page.get_by_role("tab", name="Glossary").wait_for()
    page.wait_for_timeout(1000)  # the page's load event has set which tabs this user sees
    tabs = page.get_by_role("tab").all_inner_texts()
    assert "Ask" in tabs and not {"Review", "Evaluation", "Documents"} & set(tabs), tabs
    assert page.locator("#review").count() == 0


def test_each_answer_cites_its_own_passages(site, page):
    page.goto(site["url"])
    ask(page, "What was Operation Rescript?")
    page.locator("#chat a.cite").first.wait_for(timeout=60_000)
    ask(page, "What is CMI?")
    page.wait_for_function("document.querySelectorAll('#sources .answer-block').length === 2", timeout=60_000)
    older = page.locator("#chat [aria-label^=\"bot's message\"]").first.locator("a.cite").first
    older.click()
    target = page.evaluate("location.hash")
    assert target.startswith("#a1-src-"), target
    assert "Rescript" in page.locator(f"#sources {target}").inner_text()
    newer = page.locator("#chat [aria-label^=\"bot's message\"]").last.locator("a.cite").first
    newer.click()
    assert "Civil-Military Interaction" in page.locator(f"#sources {page.evaluate('location.hash')}").inner_text()
    page.locator("#chat button[aria-label='Clear']").click()  # the chat's trash icon clears the sources too
    page.locator("#sources").get_by_text("Sources of each answer appear here").wait_for(timeout=10_000)


CHAT_PLACE = """() => [Math.round(document.querySelector('#chat').getBoundingClientRect().top),
    ...[...document.querySelectorAll('#chat *')].filter(x => x.scrollHeight > x.clientHeight).map(x => Math.round(x.scrollTop))]"""


def test_a_citation_in_an_older_answer_scrolls_only_the_source_panel(site, page):
    page.goto(site["url"])
    ask(page, "What was Operation Rescript?")
    page.locator("#chat a.cite").first.wait_for(timeout=60_000)
    ask(page, "What are the seven baseline requirements for civil preparedness?")
    page.wait_for_function("document.querySelectorAll('#sources .answer-block').length === 2", timeout=60_000)
    page.wait_for_timeout(500)
    older = page.locator("#chat [aria-label^=\"bot's message\"]").first.locator("a.cite").last
    older.scroll_into_view_if_needed()
    before = page.evaluate(CHAT_PLACE)
    older.click()
    page.wait_for_timeout(500)
    target = page.evaluate("location.hash")
    assert target.startswith("#a1-src-"), target
    assert page.evaluate(CHAT_PLACE) == before  # the chat stays where it was, on the page and in its own scroll
    shown = page.evaluate(f"""() => {{ const r = document.querySelector('#sources {target}').getBoundingClientRect();
        return r.top >= 0 && r.top < window.innerHeight - 40; }}""")
    assert shown, "the cited passage is scrolled into view in the source panel"
    assert page.evaluate(f"document.querySelector('#sources {target}').matches(':target')")


def test_on_a_phone_the_sources_sit_under_the_answer(site, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(site["url"])
    ask(page, "What was Operation Rescript?")
    page.locator("#chat a.cite").first.wait_for(timeout=60_000)
    assert not page.locator("#sources").is_visible()
    under = page.locator("#chat details.answer-sources").last
    assert under.is_visible()
    under.locator("summary").click()
    assert "Operation Rescript" in under.locator(".source").first.inner_text()
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "chat-phone.png"), full_page=True)
    context.close()


def test_embed_view_in_an_allowed_intranet_page(site, page):
    page.goto(site["allowed"])
    frame = page.frame_locator("#cimic")
    frame.locator("#question textarea").wait_for(timeout=60_000)
    assert frame.locator("[role=tab]").count() == 0  # minimal chrome: no tabs, no title
    ask(frame, "What is CMI?")
    frame.locator("#chat a.cite").first.wait_for(timeout=60_000)


def test_embed_view_refused_in_a_page_of_another_origin(site, page):
    page.goto(site["other"])
    page.wait_for_timeout(3000)
    frame = page.frame(url=lambda u: "/embed" in u)
    has_app = frame is not None and frame.locator("#question textarea").count() > 0
    assert not has_app  # frame-ancestors blocks it


def test_markup_from_documents_and_questions_stays_inert(site, page):
    page.goto(site["url"])
    ask(page, "Who keeps the Zyxwv liaison cell roster?")
    page.locator("#chat a.cite").first.wait_for(timeout=60_000)
    assert "Zyxwv" in page.locator("#sources").inner_text()  # the planted note is cited, its markup shown as text
    assert "<script>" in page.locator("#sources").inner_text() and "onerror" in page.locator("#sources").inner_text()
    ask(page, 'Zyxwv roster? <img src=y onerror="window.__pwned=\'q\'"><script>window.__pwned="q"</script> '
              '[x](javascript:window.__pwned=1)')
    page.locator("#chat [aria-label^=\"bot's message\"]").nth(1).wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    assert "<img src=y" in page.locator("#chat").inner_text()  # the question is shown as the text it is
    for link in page.locator("#sources a, #chat a").all():
        assert not (link.get_attribute("href") or "").strip().lower().startswith("javascript")
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator("#chat img, #sources img, #chat script, #sources script").count() == 0
    assert page.dialogs == []


@pytest.mark.parametrize("question,message", [("   \u200b  ", "empty"), ("x" * 2500, "limit"),
                                              ("what is cimic \x00", "the question holds a NUL byte"),
                                              ("what is cimic \ud800", "not valid text")])
def test_bad_input_in_the_page_shows_the_reason(site, page, question, message):
    page.goto(site["url"])
    if "\ud800" in question:  # typed by a script: Playwright's own channel would make the lone surrogate U+FFFD
        page.locator("#question textarea").evaluate(
            "(el) => { el.value = 'what is cimic \\ud800'; el.dispatchEvent(new Event('input', {bubbles: true})); }")
    else:
        page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    page.get_by_text(message, exact=False).first.wait_for(timeout=30_000)
    assert "Traceback" not in page.content() and "went wrong" not in page.content()
    ask(page, "What is CMI?")  # the page still works
    page.locator("#chat a.cite").first.wait_for(timeout=60_000)


@pytest.fixture(scope="module")
def locked_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-locked")
    env = indexed_env(tmp, CIMIC_AUTH="trainee:t-pass,instructor:i-pass", CIMIC_INSTRUCTORS="instructor",
                      CIMIC_EVAL_REPORTS_DIR=str(tmp / "reports"))
    url, service = cimic_server(env)
    with service:
        yield {"url": url, "db": tmp / "feedback.db", "tmp": tmp}


LOGINS = {"trainee": "t-pass", "instructor": "i-pass"}


def signed_in(browser, site, user: str, **context):
    """A browser context signed in as `user` on the locked site, and a page opened on it."""
    ctx = browser.new_context(http_credentials={"username": user, "password": LOGINS[user]}, **context)
    page = ctx.new_page()
    page.goto(site["url"])
    return ctx, page


def test_login_is_required_and_the_review_tab_needs_an_instructor(locked_site, browser):
    from playwright.sync_api import Error as BrowserError

    anonymous = browser.new_context()
    page = anonymous.new_page()
    try:
        assert page.goto(locked_site["url"]).status == 401
    except BrowserError as exc:  # headless Chromium answers a Basic challenge it cannot meet with this error
        assert "ERR_INVALID_AUTH_CREDENTIALS" in str(exc)
    assert page.locator("#question textarea").count() == 0
    anonymous.close()

    trainee, page = signed_in(browser, locked_site, "trainee")
    ask(page, "What was Operation Rescript?")
    page.locator("#chat a.cite").first.wait_for(timeout=60_000)
    page.locator("#chat button[aria-label='Dislike']").last.click()
    page.locator("#feedback-status").get_by_text("feedback was stored").wait_for(timeout=30_000)
    assert "Review" not in page.get_by_role("tab").all_inner_texts()
    trainee.close()

    instructor, page = signed_in(browser, locked_site, "instructor")
    page.get_by_role("tab", name="Review").click()
    page.locator("#review-load").click()
    page.locator("#review table").wait_for(timeout=30_000)
    assert "What was Operation Rescript?" in page.locator("#review").inner_text()
    assert "trainee" in page.locator("#review").inner_text()
    instructor.close()


def start_run(page, sample: str):
    page.locator("#eval-sample input").fill(sample)
    page.locator("#eval-start").click()
    page.locator("#eval-started").get_by_text("started").wait_for(timeout=30_000)


def test_evaluation_tab_runs_reports_and_compares(locked_site, browser):
    trainee, page = signed_in(browser, locked_site, "trainee")
    page.get_by_role("tab", name="Glossary").wait_for()
    page.wait_for_timeout(1000)
    assert not {"Evaluation", "Documents"} & set(page.get_by_role("tab").all_inner_texts())
    trainee.close()

    instructor, page = signed_in(browser, locked_site, "instructor", viewport={"width": 1280, "height": 1000})
    page.get_by_role("tab", name="Evaluation").click()
    page.get_by_text("No evaluation has been run yet").wait_for(timeout=30_000)
    page.locator("#eval-backend").get_by_text("extractive").click()
    start_run(page, "5")
    rows = page.locator("#eval-runs-table tr")
    page.wait_for_function("[...document.querySelectorAll('#eval-runs-table td')].some(td => td.textContent === 'done')",
                           timeout=600_000)
    assert "instructor" in rows.nth(1).inner_text() and "gold" in rows.nth(1).inner_text()
    page.locator("#eval-open").click()
    frame = page.frame_locator("#eval-report-frame")
    frame.get_by_text("How far can the assistant be trusted?").wait_for(timeout=30_000)
    assert frame.get_by_role("heading", name="The independent judge").count() == 1

    start_run(page, "6")
    page.wait_for_function("[...document.querySelectorAll('#eval-runs-table td')].filter(td => td.textContent === 'done')"
                           ".length === 2", timeout=600_000)
    # the run pickers follow the table: wait until "Run" shows the newest run (the table's first row)
    page.wait_for_function("document.querySelector('#eval-pick input').value === "
                           "document.querySelector('#eval-runs-table tr:nth-child(2) td').textContent", timeout=30_000)
    page.locator("#eval-compare").click()
    panel = page.locator("#eval-comparison")
    panel.wait_for(timeout=30_000)
    assert "fact_recall" in panel.inner_text() and " against " in panel.inner_text()
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "evaluation-tab.png"), full_page=True)
    instructor.close()


def test_the_evaluation_runs_table_shows_its_gates_column(locked_site, browser):
    instructor, page = signed_in(browser, locked_site, "instructor", viewport={"width": 1280, "height": 1000})
    page.get_by_role("tab", name="Evaluation").click()
    page.locator("#eval-backend").get_by_text("extractive").click()
    start_run(page, "1")
    # this run is the newest, the table's first row (an earlier test's run may be done already): wait for it
    page.wait_for_function("[...document.querySelectorAll('#eval-runs-table tr:nth-child(2) td')].some(td => td.textContent === 'done')",
                           timeout=600_000)
    # the Gates column, its heading and the run's cell, lies inside the table's box on the page (not scrolled out of view)
    inside = page.evaluate("""() => {
        const table = document.querySelector('#eval-runs-table'), box = table.parentElement.getBoundingClientRect();
        const at = [...table.querySelectorAll('tr:first-child th')].findIndex(th => th.textContent === 'Gates');
        return at < 0 ? [] : [...table.querySelectorAll(`tr:nth-child(-n+2) > :nth-child(${at + 1})`)].map(x => {
            const r = x.getBoundingClientRect();
            return [x.textContent, r.left >= box.left - 1 && r.right <= box.right + 1 && r.right <= window.innerWidth];
        });
    }""")
    assert len(inside) == 2 and inside[0][0] == "Gates" and re.match(r"met|missed: ", inside[1][0]), inside
    assert all(ok for _, ok in inside), inside
    instructor.close()


def test_documents_tab_upload_ask_delete(locked_site, browser, tmp_path):
    import httpx

    from conftest import docx_bytes, pdf_bytes

    (tmp_path / "kestrel.docx").write_bytes(docx_bytes("Operation Kestrel", [
        "During Operation Kestrel the Varnish brigade rebuilt 17 bridges in the Tallow valley in 2029."]))
    (tmp_path / "zephyr.pdf").write_bytes(pdf_bytes(["Operation Zephyr delivered water filters to Lake Ostrava.", "Annex."]))
    question = "How many bridges did the Varnish brigade rebuild?"

    instructor, page = signed_in(browser, locked_site, "instructor", viewport={"width": 1280, "height": 1000})
    page.get_by_role("tab", name="Documents").click()
    page.locator("#index-progress").wait_for(timeout=30_000)  # the progress line follows the index
    page.locator("#doc-files input[type=file]").set_input_files([str(tmp_path / "kestrel.docx"), str(tmp_path / "zephyr.pdf")])
    page.locator("#doc-upload-status").wait_for(state="attached")
    page.wait_for_timeout(500)
    page.locator("#doc-upload").click()
    page.locator("#doc-upload-status").get_by_text("zephyr.pdf: checked").wait_for(timeout=30_000)
    page.locator("#document-jobs").get_by_text("kestrel.docx: indexed").wait_for(timeout=60_000)
    page.locator("#document-jobs").get_by_text("zephyr.pdf: indexed").wait_for(timeout=60_000)
    page.locator("#documents-table").get_by_text("kestrel.docx").wait_for(timeout=30_000)
    assert "2" in page.locator("#documents-table tr", has_text="zephyr.pdf").inner_text()  # its pages
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "documents-tab.png"), full_page=True)

    page.get_by_role("tab", name="Ask").click()
    ask(page, question)
    page.locator("#chat a.cite").first.wait_for(timeout=60_000)
    assert "17" in page.locator("#chat [aria-label^=\"bot's message\"]").last.inner_text()
    assert "Operation Kestrel" in page.locator("#sources").inner_text()

    page.get_by_role("tab", name="Documents").click()
    page.locator("#doc-pick input").click()
    page.get_by_role("option", name="Operation Kestrel (kestrel.docx)").click()
    page.locator("#doc-preview").get_by_text("17 bridges").wait_for(timeout=30_000)
    page.locator("#doc-delete").click()  # asks first (issue 30, item 7)
    page.locator("#doc-confirm").get_by_text("Delete Operation Kestrel").wait_for(timeout=30_000)
    # the handler that showed the question is the one that would have deleted: once it has answered, no delete was sent
    status = httpx.get(f"{locked_site['url']}/api/index/status", auth=("instructor", "i-pass")).json()
    sent = status["queued"] + status["recent"] + ([status["job"]] if status["job"] else [])
    assert not [j for j in sent if j["action"] == "delete"], sent
    page.locator("#doc-confirm-cancel").click()
    page.locator("#doc-edit-status").get_by_text("Nothing was deleted").wait_for(timeout=30_000)
    assert not page.locator("#doc-confirm").is_visible()
    page.locator("#doc-delete").click()
    page.locator("#doc-confirm-delete").click()
    page.locator("#document-jobs").get_by_text("kestrel.docx: deleted").wait_for(timeout=60_000)

    ask_afresh(page, question)
    page.locator("#sources").get_by_text("Not answered").wait_for(timeout=60_000)

    page.get_by_role("tab", name="Documents").click()  # and back from .trash/
    page.locator("#trash-pick input").click()
    page.get_by_role("option", name=re.compile(r"^Operation Kestrel \(kestrel\.docx\), deleted ")).click()
    page.locator("#trash-restore").click()
    page.locator("#document-jobs").get_by_text("kestrel.docx: restored").wait_for(timeout=60_000)
    ask_afresh(page, question)
    page.locator("#chat a.cite").first.wait_for(timeout=60_000)
    assert "17" in page.locator("#chat [aria-label^=\"bot's message\"]").last.inner_text()
    instructor.close()


def test_conversations_survive_a_reload_and_stay_private(locked_site, browser):
    trainee, page = signed_in(browser, locked_site, "trainee")
    ask(page, "What was Operation Rescript?")
    page.locator("#chat a.cite").first.wait_for(timeout=60_000)
    page.reload()
    page.locator("#conversations").get_by_text("What was Operation Rescript?").first.wait_for(timeout=30_000)
    assert page.locator("#chat [aria-label^=\"bot's message\"]").count() == 0
    page.locator("#conversations label", has_text="What was Operation Rescript?").first.click()
    page.locator("#chat [aria-label^=\"bot's message\"]").first.wait_for(timeout=30_000)
    assert "Rescript" in page.locator("#sources").inner_text()  # restored with its sources
    ask(page, "Under which procedure was it carried out?")
    page.locator("#chat [aria-label^=\"bot's message\"]").nth(1).get_by_text("Military Aid to the Civil Authorities").first.wait_for(timeout=60_000)
    trainee.close()

    other, page = signed_in(browser, locked_site, "instructor")
    page.locator("#conversations").wait_for()
    page.wait_for_timeout(1000)
    assert "Operation Rescript" not in page.locator("#conversations").inner_text()
    other.close()


def test_practice_session_graded_with_passages_progress_and_class_view(locked_site, browser, embedder):
    from assistant.answering.pipeline import build_assistant
    from assistant.config import Settings
    from assistant.practice.questions import QuestionBank

    tmp = locked_site["tmp"]
    settings = Settings(_env_file=None, knowledge_dir=tmp / "knowledge", store_dir=tmp / "index", llm_backend="extractive")
    bank = QuestionBank(build_assistant(settings, embedder=embedder).retriever)

    def current():
        text = page.locator("#practice-q .practice-text").inner_text()
        return next(q for q in bank.questions() if q.text == text)

    def answer(text):
        number = page.locator("#practice-q b").inner_text()  # read before the click: the reply may come at once
        page.locator("#practice-answer textarea").fill(text)
        page.locator("#practice-submit").click()
        page.wait_for_function("(n) => document.querySelectorAll('#practice-grade').length && "
                               "!document.querySelector('#practice-q .practice-text') || "
                               "document.querySelector('#practice-q b').textContent !== n",
                               arg=number, timeout=30_000)
        return page.locator("#practice-grade").inner_text()

    trainee, page = signed_in(browser, locked_site, "trainee", viewport={"width": 1280, "height": 1000})
    page.get_by_role("tab", name="Practice").click()
    assert not page.locator("#practice-class-load").is_visible()  # the class view is the instructors'
    assert not page.locator("#practice-feedback").is_visible()  # this site has no chat model to write feedback
    grades = []
    for _ in range(6):  # a session whose questions allow a partly right answer (one with several key points)
        page.locator("#practice-topic input").click()
        page.get_by_role("option", name=re.compile(r"^Glossary terms")).click()
        page.locator("#practice-length input").fill("3")
        page.locator("#practice-start").click()
        page.locator("#practice-q").get_by_text("Question 1 of 3").wait_for(timeout=30_000)
        grades = [answer("; ".join(current().key_points))]
        for _ in range(2):
            q = current()
            if "Partly correct" not in grades and len(q.key_points) > 1:
                grades.append(answer(q.key_points[0]))
                assert page.locator("#practice-result mark.missing").count() >= 1  # the missing points, marked
            else:
                grades.append(answer("the weather was fine that day"))
        if grades == ["Correct", "Partly correct", "Incorrect"] or sorted(grades) == ["Correct", "Incorrect", "Partly correct"]:
            break
    assert sorted(grades) == ["Correct", "Incorrect", "Partly correct"], grades
    assert "[1]" in page.locator("#practice-result").inner_text()  # the passage that justifies the grade, cited
    page.locator("#practice-score").wait_for(timeout=30_000)
    assert "Score: 1.5 of 3" in page.locator("#practice-score").inner_text()
    assert page.locator("#practice-again").is_visible()
    assert "Glossary" in page.locator("#practice-progress-table").inner_text() or \
        "glossary" in page.locator("#practice-progress-table").inner_text()
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "practice-tab.png"), full_page=True)
    trainee.close()

    instructor, page = signed_in(browser, locked_site, "instructor")
    page.get_by_role("tab", name="Practice").click()
    page.locator("#practice-class-load").click()
    page.locator("#class-questions").wait_for(timeout=30_000)
    assert "glossary" in page.locator("#class-topics").inner_text()
    assert page.locator("#practice-class-csv a").count() >= 1  # the CSV export
    instructor.close()
