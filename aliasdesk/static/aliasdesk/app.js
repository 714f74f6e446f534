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
// Tables marked "cards" become one card per row on a phone (app.css): each cell is captioned
// with its column's heading, copied here into data-label (the headings are translated already).
function labelCells(root) {
  root.querySelectorAll("table.cards").forEach((table) => {
    const heads = [];
    table.querySelectorAll("thead tr:first-child > th").forEach((th) => {
      const text = th.textContent.replace(/[▲▼]/g, "").trim();
      for (let i = 0; i < th.colSpan; i += 1) { heads.push(text); }
    });
    table.querySelectorAll("tbody > tr").forEach((row) => {
      let column = 0;
      for (const cell of row.cells) {
        if (!cell.hasAttribute("data-label") && heads[column] && cell.colSpan === 1) {
          cell.dataset.label = heads[column];
        }
        column += cell.colSpan;
      }
    });
  });
}
document.addEventListener("DOMContentLoaded", () => labelCells(document));
document.addEventListener("htmx:afterSettle", () => labelCells(document));
