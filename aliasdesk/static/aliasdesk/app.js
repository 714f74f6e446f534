// aliasdesk: small behaviours on top of htmx. No framework, no bundler.
document.addEventListener("click", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (all) {
    document.querySelectorAll("input[name='ids']").forEach((box) => { box.checked = all.checked; });
  }
});
document.addEventListener("keydown", (event) => {
  // "/" focuses the search box, as in most admin tools.
  if (event.key === "/" && !event.target.closest("input, textarea, select")) {
    const search = document.querySelector("input[type='search']");
    if (search) { event.preventDefault(); search.focus(); }
  }
  // Escape cancels an inline edit.
  if (event.key === "Escape") {
    const cancel = event.target.closest("tr")?.querySelector("[data-cancel]");
    if (cancel) { cancel.click(); }
  }
});
