// The web chat page: post a line, follow its answer as server-sent events.
(function () {
  const log = document.getElementById("log"), text = document.getElementById("text");
  const send = document.getElementById("send"), empty = document.getElementById("empty");
  const stop = document.getElementById("stop");
  const STOPPED = "_(Stopped.)_";
  // The answer streaming now (its event key), which Stop and Esc stop.
  let streaming = null;
  // getRandomValues works outside secure contexts too (a LAN address over plain HTTP), randomUUID does not.
  const newThread = () => Array.from(crypto.getRandomValues(new Uint8Array(16)),
                                     (b) => b.toString(16).padStart(2, "0")).join("");
  let thread = localStorage.getItem("llmos-thread");
  if (!thread) { thread = newThread(); localStorage.setItem("llmos-thread", thread); }

  // An answer's Markdown as HTML. HTML the model writes (a <script>, an <img onerror>) is shown as
  // text, never run; DOMPurify then cleans what Markdown itself made. The person's lines stay plain text.
  const escapeHtml = (raw) => raw.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  marked.use({gfm: true, breaks: true, renderer: {html: (token) => escapeHtml(token.text || "")}});

  function show(node, markdown) {
    node.dataset.markdown = markdown;
    if (!node.classList.contains("assistant")) { node.textContent = markdown; return; }
    node.innerHTML = DOMPurify.sanitize(marked.parse(markdown));
    for (const block of node.querySelectorAll("pre")) {
      const copy = document.createElement("button");
      copy.type = "button"; copy.className = "copy quiet"; copy.textContent = "Copy";
      copy.addEventListener("click", async () => {
        try { await navigator.clipboard.writeText(block.querySelector("code")?.textContent ?? block.textContent); copy.textContent = "Copied"; }
        catch (error) { copy.textContent = "Select and copy"; }
      });
      block.prepend(copy);
    }
  }

  // While an answer streams it is drawn at most once a frame, however fast the pieces come.
  function grow(node, piece) {
    node.dataset.markdown = (node.dataset.markdown || "") + piece;
    if (node.dataset.pending) return;
    node.dataset.pending = "1";
    requestAnimationFrame(() => { delete node.dataset.pending; show(node, node.dataset.markdown); log.scrollTop = log.scrollHeight; });
  }

  function bubble(role, content, stopped) {
    if (empty) empty.remove();
    const node = document.createElement("div");
    node.className = "msg " + role + (stopped ? " stopped" : "");
    show(node, content);
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    return node;
  }

  async function rate(key, value, comment) {
    const response = await fetch("/chat/feedback", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({key: key, rating: value, comment: comment || ""}),
    });
    const body = await response.json();
    return typeof body.detail === "string" ? body.detail : "Could not record the feedback.";
  }

  // 👍/👎 under a finished answer; after a rating, an optional comment.
  function rating(node, key) {
    const row = document.createElement("div");
    row.className = "rate";
    const note = document.createElement("span");
    note.className = "muted";
    for (const [value, label, title] of [["up", "👍", "Helpful"], ["down", "👎", "Not helpful"]]) {
      const button = document.createElement("button");
      button.type = "button"; button.className = "quiet"; button.textContent = label; button.title = title;
      button.dataset.rating = value;
      button.addEventListener("click", async () => {
        row.querySelectorAll("button[data-rating]").forEach((b) => b.classList.toggle("chosen", b === button));
        note.textContent = await rate(key, value);
        if (!row.querySelector("form")) row.appendChild(commentForm(key, () => button.dataset.rating, note));
      });
      row.appendChild(button);
    }
    const again = document.createElement("button");
    again.type = "button"; again.className = "quiet regenerate"; again.textContent = "↻ Regenerate";
    again.title = "Ask again; the new answer takes this one's place";
    again.addEventListener("click", () => regenerate(node, key, row, note));
    row.appendChild(again);
    row.appendChild(note);
    node.after(row);
  }

  // Ask an answer again: the new one streams into the same bubble; the old one stays in the store.
  async function regenerate(node, key, row, note) {
    if (send.disabled) return;
    send.disabled = true;
    try {
      const response = await fetch("/chat/regenerate", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({key: key}),
      });
      const body = await response.json();
      if (!response.ok) {
        note.textContent = typeof body.detail === "string" ? body.detail : "Could not regenerate this answer.";
        return;
      }
      row.remove();
      node.classList.remove("stopped", "failed");
      show(node, "");
      node.classList.add("streaming");
      streaming = {key: body.key, node: node};
      send.hidden = true; stop.hidden = false;
      if (await follow(body.stream, node)) rating(node, body.key);
    } catch (error) {
      note.textContent = "LLMOS is not reachable: " + error;
    } finally {
      streaming = null; stop.hidden = true; send.hidden = false; stop.disabled = false;
      send.disabled = false;
    }
  }

  function commentForm(key, chosen, note) {
    const form = document.createElement("form");
    const input = document.createElement("input");
    input.type = "text"; input.maxLength = 2000; input.placeholder = "Tell us more (optional)";
    const submit = document.createElement("button");
    submit.type = "submit"; submit.className = "quiet"; submit.textContent = "Send";
    form.append(input, submit);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!input.value.trim()) return;
      note.textContent = await rate(key, chosen(), input.value.trim());
      form.remove();
    });
    return form;
  }

  async function history() {
    const response = await fetch("/chat/history?thread=" + encodeURIComponent(thread), {credentials: "same-origin"});
    if (!response.ok) return;
    for (const message of await response.json()) {
      const node = bubble(message.role, message.content, message.stopped);
      if (message.key) rating(node, message.key);
    }
  }

  function follow(stream, node) {
    return new Promise((resolve) => {
      const source = new EventSource(stream);
      let finished = false;
      const end = (failed, message) => {
        finished = true; source.close();
        node.classList.remove("streaming");
        if (failed) { node.classList.add("failed"); node.textContent = message; }
        delete node.dataset.pending;
        resolve(!failed);
      };
      source.addEventListener("start", () => node.classList.add("streaming"));
      source.addEventListener("reset", () => { show(node, ""); });
      // Progress while a tool runs ("Using search…"), shown after the text until more text comes.
      source.addEventListener("status", (e) => { node.dataset.status = JSON.parse(e.data).text; });
      source.addEventListener("delta", (e) => {
        delete node.dataset.status;
        grow(node, JSON.parse(e.data).text);
      });
      source.addEventListener("done", (e) => {
        delete node.dataset.status;
        const said = JSON.parse(e.data).text;
        // A stopped answer ends with the worker's Markdown note; the bubble says it in its own style.
        if (said.endsWith(STOPPED)) { show(node, said.slice(0, -STOPPED.length).trimEnd()); node.classList.add("stopped"); }
        else { show(node, said); }
        end(false);
      });
      source.addEventListener("error", (e) => {
        if (finished) return;
        if (e.data) { end(true, JSON.parse(e.data).text); } else { end(true, "The connection to LLMOS was lost."); }
      });
    });
  }

  const picker = document.getElementById("files");

  function encoded(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve({name: file.name, mime_type: file.type, content: reader.result.split(",", 2)[1] || ""});
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
  }

  async function ask(line) {
    const files = await Promise.all(Array.from(picker.files).map(encoded));
    picker.value = "";
    bubble("user", files.length ? line + "\n📎 " + files.map((f) => f.name).join(", ") : line);
    const node = bubble("assistant", "");
    node.classList.add("streaming");
    send.disabled = true;
    try {
      const response = await fetch("/chat/messages", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({text: line, thread: thread, files: files}),
      });
      const body = await response.json();
      if (!response.ok) {
        node.classList.remove("streaming"); node.classList.add("failed");
        node.textContent = typeof body.detail === "string" ? body.detail : "LLMOS could not take this message.";
        return;
      }
      for (const note of body.notes || []) { log.insertBefore(bubble("note", note), node); }
      streaming = {key: body.key, node: node};
      send.hidden = true; stop.hidden = false;
      const ended = await follow(body.stream, node);
      if (ended) rating(node, body.key);
      listThreads();
    } catch (error) {
      node.classList.remove("streaming"); node.classList.add("failed");
      node.textContent = "LLMOS is not reachable: " + error;
    } finally {
      streaming = null; stop.hidden = true; send.hidden = false; stop.disabled = false;
      send.disabled = false; text.focus();
    }
  }

  async function stopAnswer() {
    if (!streaming || stop.disabled) return;
    const asked = streaming;
    stop.disabled = true;
    try {
      const response = await fetch("/chat/stop", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({key: asked.key}),
      });
      // Stopping: the answer's stream ends by itself with what was said. Else say why not.
      if (!response.ok && response.status !== 409) {
        const body = await response.json();
        asked.node.dataset.status = typeof body.detail === "string" ? body.detail : "Could not stop.";
        stop.disabled = false;
      }
    } catch (error) {
      asked.node.dataset.status = "Could not stop: " + error; stop.disabled = false;
    }
  }

  stop.addEventListener("click", stopAnswer);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && streaming) { e.preventDefault(); stopAnswer(); } });

  document.getElementById("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const line = text.value.trim();
    if (line && !send.disabled) { text.value = ""; ask(line); }
  });
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); document.getElementById("composer").requestSubmit(); }
  });
  // The browser's conversations: listed from the store, named here (the names stay in this browser).
  const list = document.getElementById("thread-list");
  const names = JSON.parse(localStorage.getItem("llmos-names") || "{}");
  const saveNames = () => localStorage.setItem("llmos-names", JSON.stringify(names));
  const open = (id) => { localStorage.setItem("llmos-thread", id); location.reload(); };

  async function listThreads() {
    const response = await fetch("/chat/threads", {credentials: "same-origin"});
    const found = response.ok ? await response.json() : [];
    if (!found.some((t) => t.thread === thread)) found.unshift({thread: thread, title: "New conversation"});
    list.replaceChildren(...found.map(entry));
  }

  function entry(item) {
    const li = document.createElement("li");
    li.className = item.thread === thread ? "current" : "";
    li.dataset.thread = item.thread;
    const title = document.createElement("button");
    title.type = "button"; title.className = "title"; title.textContent = names[item.thread] || item.title;
    title.addEventListener("click", () => { if (item.thread !== thread) open(item.thread); });
    const rename = document.createElement("button");
    rename.type = "button"; rename.className = "rename"; rename.textContent = "✎"; rename.title = "Rename";
    rename.addEventListener("click", () => {
      const name = prompt("Name this conversation", title.textContent);
      if (name === null) return;
      if (name.trim()) names[item.thread] = name.trim().slice(0, 80); else delete names[item.thread];
      saveNames(); listThreads();
    });
    const remove = document.createElement("button");
    remove.type = "button"; remove.className = "delete"; remove.textContent = "✕"; remove.title = "Delete";
    remove.addEventListener("click", async () => {
      if (!confirm("Delete this conversation and its messages?")) return;
      const response = await fetch("/chat/threads/" + encodeURIComponent(item.thread),
                                   {method: "DELETE", credentials: "same-origin"});
      if (!response.ok && response.status !== 404) return;
      delete names[item.thread]; saveNames();
      if (item.thread === thread) open(newThread()); else listThreads();
    });
    li.append(title, rename, remove);
    return li;
  }

  // The skill picker: the chosen skill's /name starts the line (replacing any /word already there).
  const skill = document.getElementById("skill");
  skill.addEventListener("change", () => {
    if (!skill.value) return;
    const rest = text.value.replace(/^\/\S*\s*/, "");
    text.value = "/" + skill.value + " " + rest;
    skill.value = "";
    text.focus();
    text.setSelectionRange(text.value.length, text.value.length);
  });

  document.getElementById("new").addEventListener("click", () => open(newThread()));
  history();
  listThreads();
})();
