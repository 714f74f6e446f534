// aliasdesk "Add many": refuse a paste or file larger than the server takes before sending
// it, so the text stays in the box and the page says why. The server checks again (413).
(() => {
  "use strict";
  function sizes(form) {
    const text = form.querySelector("textarea[name='text']").value;
    // Browsers send a textarea's line ends as CR LF; the server counts LF alone.
    const textBytes = new Blob([text]).size;
    const file = form.querySelector("input[type='file']").files[0];
    return { textBytes, fileBytes: file ? file.size : 0 };
  }

  function human(bytes) {
    return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
  }

  function check(form) {
    const max = Number(form.dataset.maxBytes);
    const note = form.querySelector("#paste-size");
    const { textBytes, fileBytes } = sizes(form);
    const over = textBytes > max || fileBytes > max;
    note.classList.toggle("too-big", over);
    note.classList.toggle("muted", !over);
    if (over) {
      // The sentence comes translated from the page (data-too-big-file / -text), {size} filled in here.
      const message = fileBytes > max ? form.dataset.tooBigFile : form.dataset.tooBigText;
      const size = human(fileBytes > max ? fileBytes : textBytes);
      note.textContent = message.replace("{size}", size);
    } else {
      note.textContent = "";
    }
    return !over;
  }

  function start() {
    const form = document.querySelector("form[data-max-bytes]");
    if (!form) { return; }
    form.addEventListener("submit", (event) => {
      if (!check(form)) { event.preventDefault(); }
    });
    form.querySelector("input[type='file']").addEventListener("change", () => check(form));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
