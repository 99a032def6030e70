"""The Documents tab (instructors): upload files with their metadata, follow the indexing jobs (a failed one
can be retried or removed), list the documents, preview one's chunks, edit its entry, delete it (after a
confirmation) or restore it from knowledge/.trash/ (`ingest/library.py`)."""

import html
from pathlib import Path

import gradio as gr

from assistant.errors import AssistantError
from assistant.userdata.fields import check_fields, check_text
from assistant.web.tabs.common import Page, open_tab
from assistant.web.views import render_chunks, render_documents, render_jobs

DOCUMENT_TYPES = [".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm"]
WHAT = "managing documents"


def _choices(library):
    """The pickers' choices: documents (and skipped files, which can be deleted too), the trash, failed jobs."""
    listing = library.documents()
    docs = [(f"{d['title']} ({d['file']})", d["doc_id"]) for d in listing["documents"] if d["editable"]]
    docs += [(f"{s['file']} (skipped)", s["doc_id"]) for s in listing["skipped"]
             if s["doc_id"] not in {v for _, v in docs}]
    trash = [(f"{t['title']} ({t['file']}), deleted {t['deleted'] or ''}", t["name"]) for t in library.trash()]
    failed = [(f"{j['action']} {j['file']}: {j['outcome']}", j["id"]) for j in library.status()["failed"]]
    return listing, docs, trash, failed


def _keep(value, choices):
    return value if value in {v for _, v in choices} else None


def documents_tab(page: Page) -> None:
    library = page.library

    def upload_documents(files, title, author, publisher, date, kind, replace, user=None):
        if not files:
            raise gr.Error("Drop one or more files first (txt, md, pdf, docx, html).")
        fields = {"author": author, "publisher": publisher, "date": date, "kind": kind}
        if len(files) == 1:
            fields["title"] = title  # one title cannot name several files: theirs come from their own metadata
        check_fields(fields)
        lines = []
        for f in files:
            path = Path(f if isinstance(f, str) else f.name)
            try:
                check_text("file name", path.name)
                library.upload(path.name, path.read_bytes(), {k: v for k, v in fields.items() if v}, bool(replace), user.name)
                lines.append(f"- {path.name}: checked, queued for indexing")
            except AssistantError as exc:
                lines.append(f"- {path.name}: refused: {exc.message}")
        return "\n".join(lines), None

    def follow_documents(known, doc, trashed, failed_job, request: gr.Request):
        """Every second while the tab is open: the progress, and the table and pickers when a job ended."""
        if not page.instructor(request):
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), known
        status = library.status()
        ended = [[j["id"], j["state"]] for j in status["recent"]]
        if ended == known:
            return render_jobs(status), gr.update(), gr.update(), gr.update(), gr.update(), known
        listing, docs, trash, failed = _choices(library)
        return (render_jobs(status), render_documents(listing), gr.update(choices=docs, value=_keep(doc, docs)),
                gr.update(choices=trash, value=_keep(trashed, trash)),
                gr.update(choices=failed, value=_keep(failed_job, failed)), ended)

    def preview_document(doc_id, user=None):
        if not doc_id:
            return "", "", "", "", "", ""
        doc = library.document(doc_id)
        return render_chunks(doc), doc["title"], doc.get("author") or "", doc.get("publisher") or "", doc.get("date") or "", doc["kind"]

    def save_document(doc_id, title, author, publisher, date, kind, user=None):
        if not doc_id:
            raise gr.Error("Pick a document first.")
        check_fields({"title": title, "author": author, "publisher": publisher, "date": date, "kind": kind})
        library.edit(doc_id, {"title": title, "author": author, "publisher": publisher, "date": date, "kind": kind}, user.name)
        return "Saved; the document is being re-indexed."

    def ask_delete(doc_id, user=None):
        """The first click only asks: which document, what deleting it does, and how to undo it."""
        if not doc_id:
            raise gr.Error("Pick a document first.")
        row = library.row(doc_id)
        question = (f"<p>Delete <b>{html.escape(row['title'] or row['file'])}</b> ({html.escape(row['file'])})? "
                    f"Its {row['chunks']} chunks leave the index and its file moves to <code>knowledge/.trash/</code>, "
                    "from where <b>Restore</b> brings it back.</p>")
        return gr.update(visible=True), question, doc_id, ""

    def confirm_delete(doc_id, user=None):
        if not doc_id:
            raise gr.Error("Pick a document first.")
        library.delete(doc_id, user.name)
        return (gr.update(visible=False), "", None,
                "Deleted; its chunks are leaving the index and its file goes to knowledge/.trash/ (Restore brings it back).")

    def cancel_delete():
        return gr.update(visible=False), "", None, "Nothing was deleted."

    def restore_document(name, user=None):
        if not name:
            raise gr.Error("Pick a deleted file first.")
        job = library.restore(name, user.name)
        return f"Restoring {job['file']}; it is indexed again when its job ends."

    def retry_job(job_id, user=None):
        if not job_id:
            raise gr.Error("Pick a failed job first.")
        job = library.retry(job_id, user.name)
        return f"{job['action'].capitalize()} {job['file']}: queued again."

    def remove_job(job_id, user=None):
        if not job_id:
            raise gr.Error("Pick a failed job first.")
        job = library.remove(job_id, user.name)
        return f"{job['action'].capitalize()} {job['file']}: {job['outcome']}"

    with gr.Tab("Documents", visible=False) as tab:
        gr.Markdown("Upload documents to the knowledge folder; they are indexed in the background and "
                    "answered from as soon as their job ends. Deleted documents' files go to `knowledge/.trash/`, "
                    "from where they can be restored.")
        files = gr.File(file_count="multiple", file_types=DOCUMENT_TYPES, label="Drop files here (txt, md, pdf, docx, html)",
                        elem_id="doc-files")
        with gr.Row():
            d_title = gr.Textbox(label="Title (one file; empty: the file's own)", elem_id="doc-title", max_lines=1)
            d_author = gr.Textbox(label="Author", elem_id="doc-author", max_lines=1)
            d_publisher = gr.Textbox(label="Publisher", elem_id="doc-publisher", max_lines=1)
            d_date = gr.Textbox(label="Date", elem_id="doc-date", max_lines=1)
            d_kind = gr.Textbox(label="Kind", placeholder="e.g. doctrine, report", elem_id="doc-kind", max_lines=1)
        d_replace = gr.Checkbox(label="Replace a document of the same name", elem_id="doc-replace")
        upload = gr.Button("Upload and index", variant="primary", elem_id="doc-upload")
        uploaded = gr.Markdown(elem_id="doc-upload-status")
        progress = gr.HTML(elem_id="index-status")
        with gr.Row():
            pick_job = gr.Dropdown([], label="Failed jobs (nothing of them was applied)", elem_id="job-pick", scale=4)
            retry = gr.Button("Retry", elem_id="job-retry", scale=1)
            remove = gr.Button("Remove", elem_id="job-remove", scale=1)
        job_status = gr.Markdown(elem_id="job-status")
        table = gr.HTML(elem_id="documents")
        gr.Markdown("### Edit, delete or preview a document")
        pick_doc = gr.Dropdown([], label="Document", elem_id="doc-pick")
        with gr.Row():
            e_title = gr.Textbox(label="Title", elem_id="edit-title", max_lines=1)
            e_author = gr.Textbox(label="Author", elem_id="edit-author", max_lines=1)
            e_publisher = gr.Textbox(label="Publisher", elem_id="edit-publisher", max_lines=1)
            e_date = gr.Textbox(label="Date", elem_id="edit-date", max_lines=1)
            e_kind = gr.Textbox(label="Kind", elem_id="edit-kind", max_lines=1)
        with gr.Row():
            save = gr.Button("Save changes", elem_id="doc-save")
            drop = gr.Button("Delete document", variant="stop", elem_id="doc-delete")
        with gr.Group(visible=False, elem_id="doc-confirm") as confirm_box:
            confirm_text = gr.HTML(elem_id="doc-confirm-text")
            with gr.Row():
                confirm = gr.Button("Yes, delete it", variant="stop", elem_id="doc-confirm-delete")
                cancel = gr.Button("Cancel", elem_id="doc-confirm-cancel")
        edited = gr.Markdown(elem_id="doc-edit-status")
        chunks = gr.HTML(elem_id="doc-preview")
        gr.Markdown("### Deleted documents")
        with gr.Row():
            pick_trash = gr.Dropdown([], label="In knowledge/.trash/", elem_id="trash-pick", scale=4)
            restore = gr.Button("Restore", elem_id="trash-restore", scale=1)
        restored = gr.Markdown(elem_id="trash-status")
        seen = gr.State(None)
        to_delete = gr.State(None)  # the document the confirmation names, whatever the picker shows meanwhile
        upload.click(page.guarded(WHAT, upload_documents),
                     [files, d_title, d_author, d_publisher, d_date, d_kind, d_replace], [uploaded, files])
        doc_timer = gr.Timer(1.0, active=False)
        tab.select(open_tab(page), None, doc_timer)
        doc_timer.tick(follow_documents, [seen, pick_doc, pick_trash, pick_job],
                       [progress, table, pick_doc, pick_trash, pick_job, seen], concurrency_limit=None)
        pick_doc.input(page.guarded(WHAT, preview_document), pick_doc, [chunks, e_title, e_author, e_publisher, e_date, e_kind])
        save.click(page.guarded(WHAT, save_document), [pick_doc, e_title, e_author, e_publisher, e_date, e_kind], edited)
        drop.click(page.guarded(WHAT, ask_delete), pick_doc, [confirm_box, confirm_text, to_delete, edited])
        confirm.click(page.guarded(WHAT, confirm_delete), to_delete, [confirm_box, confirm_text, to_delete, edited])
        cancel.click(cancel_delete, None, [confirm_box, confirm_text, to_delete, edited])
        restore.click(page.guarded(WHAT, restore_document), pick_trash, restored)
        retry.click(page.guarded(WHAT, retry_job), pick_job, job_status)
        remove.click(page.guarded(WHAT, remove_job), pick_job, job_status)
    page.instructor_tabs.append(tab)
