// The web chat page: post a line, follow its answer as server-sent events.
(function () {
  const log = document.getElementById("log"), text = document.getElementById("text");
  const send = document.getElementById("send"), empty = document.getElementById("empty");
  // getRandomValues works outside secure contexts too (a LAN address over plain HTTP), randomUUID does not.
  const newThread = () => Array.from(crypto.getRandomValues(new Uint8Array(16)),
                                     (b) => b.toString(16).padStart(2, "0")).join("");
  let thread = localStorage.getItem("llmos-thread");
  if (!thread) { thread = newThread(); localStorage.setItem("llmos-thread", thread); }

  function bubble(role, content) {
    if (empty) empty.remove();
    const node = document.createElement("div");
    node.className = "msg " + role;
    node.textContent = content;
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    return node;
  }

  async function history() {
    const response = await fetch("/chat/history?thread=" + encodeURIComponent(thread), {credentials: "same-origin"});
    if (!response.ok) return;
    for (const message of await response.json()) bubble(message.role, message.content);
  }

  function follow(stream, node) {
    return new Promise((resolve) => {
      const source = new EventSource(stream);
      let finished = false;
      const end = (failed, message) => {
        finished = true; source.close();
        node.classList.remove("streaming");
        if (failed) { node.classList.add("failed"); node.textContent = message; }
        resolve();
      };
      source.addEventListener("start", () => node.classList.add("streaming"));
      source.addEventListener("reset", () => { node.textContent = ""; });
      // Progress while a tool runs ("Using search…"), shown after the text until more text comes.
      source.addEventListener("status", (e) => { node.dataset.status = JSON.parse(e.data).text; });
      source.addEventListener("delta", (e) => {
        delete node.dataset.status;
        node.textContent += JSON.parse(e.data).text; log.scrollTop = log.scrollHeight;
      });
      source.addEventListener("done", (e) => {
        delete node.dataset.status; node.textContent = JSON.parse(e.data).text; end(false);
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
      await follow(body.stream, node);
    } catch (error) {
      node.classList.remove("streaming"); node.classList.add("failed");
      node.textContent = "LLMOS is not reachable: " + error;
    } finally { send.disabled = false; text.focus(); }
  }

  document.getElementById("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const line = text.value.trim();
    if (line && !send.disabled) { text.value = ""; ask(line); }
  });
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); document.getElementById("composer").requestSubmit(); }
  });
  document.getElementById("new").addEventListener("click", () => {
    thread = newThread(); localStorage.setItem("llmos-thread", thread); location.reload();
  });
  history();
})();
